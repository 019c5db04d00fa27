// The options of the minecraft:server frontend kind, read from
// frontends[i].options with every error located (proxygw-engine, at config
// check and at start). See configs/minecraft.yaml for the user's view.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proxygw-engine/config/config.h"
#include "proxygw-engine/config/yaml_reader.h"

namespace plugins::minecraft {

// Texts longer than this are refused (with the escaping of the JSON they go
// into and the favicon, the status response stays under its 32767 limit).
inline constexpr std::size_t kMaxTextBytes = 512;
inline constexpr std::size_t kMaxWakeAllow = 1000;

struct ServerOptions {
  std::string motd = "Asleep: join to wake the server up";               // status while inactive
  std::string starting_motd = "Starting: join again in a minute";        // while warming
  std::string login = "The server is starting. Reconnect in a minute.";  // Disconnect text
  std::string not_allowed = "You may not wake this server.";  // to a name not in wake_allow
  std::string version_name = "proxygw-minecraft";             // the original's
  std::optional<std::int32_t> protocol;                       // none: echo the client's
  std::int32_t max_players = 0;
  std::string favicon;                  // data URI, empty for none
  std::vector<std::string> wake_allow;  // lower case; empty: anyone may wake
};

// The options of `f`, or nullopt having reported every problem into `errors`
// (unknown keys, wrong types, out of range values, a favicon that cannot be
// read or is not a 64×64 PNG, a protocol other than tcp).
std::optional<ServerOptions> ReadServerOptions(const config::Frontend& f,
                                               config::ErrorSink& errors);

// Whether `player` may wake the target: wake_allow is empty or holds the
// name (ASCII case-insensitively, as Minecraft compares names).
bool MayWake(const ServerOptions& o, std::string_view player);

}  // namespace plugins::minecraft
