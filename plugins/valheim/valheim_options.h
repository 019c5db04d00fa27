// The options of the valheim frontend kinds, read from frontends[i].options
// with every error located (proxygw-engine, at config check and at start).
// valheim:server takes none; valheim:status the original's four.
#pragma once

#include <optional>
#include <string>

#include "plugins/valheim/a2s.h"
#include "proxygw-engine/config/config.h"
#include "proxygw-engine/config/yaml_reader.h"

namespace plugins::valheim {

// Valheim's Steam app id (the A2S game id).
inline constexpr std::uint64_t kValheimGameId = 892970;
// What A2S's fixed-size fields and a datagram allow.
inline constexpr std::size_t kMaxNameBytes = 200;

struct StatusOptions {
  std::string name;     // required: the server's name in the list
  std::string version;  // required: the game version, in the keywords
  bool password = true;
  bool vac = false;
};

// valheim:status's options, or nullopt having reported every problem.
std::optional<StatusOptions> ReadStatusOptions(const config::Frontend& f,
                                               config::ErrorSink& errors);
// valheim:server's (none: a mapping with no keys, or absent); false having
// reported the problems.
bool ReadServerOptions(const config::Frontend& f, config::ErrorSink& errors);

// The A2S_INFO a sleeping Valheim server answers, as the original built it:
// map = name, folder "valheim", app id 0, 10 players at most, dedicated,
// Linux, "1.0.0.0", the game port (query port - 1), an anonymous SteamID,
// keywords "g=<version>,n=36,m=" and the game id 892970.
Info ValheimInfo(const StatusOptions& o, std::uint16_t query_port);

}  // namespace plugins::valheim
