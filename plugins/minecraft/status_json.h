// The JSON that minecraft:server sends while its target is cold: the status
// response of the server list (version, players, description, favicon) and
// the text component of a login Disconnect. Built with nlohmann_json, so
// every text is escaped; runs inside proxygw-engine.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace plugins::minecraft {

struct StatusInfo {
  std::string version_name;
  std::int32_t protocol = 0;
  std::int32_t max_players = 0;
  std::int32_t online = 0;
  std::string description;  // plain text (the MOTD); '§' codes pass through
  std::string favicon;      // "data:image/png;base64,...", or empty for none
};

// {"version":{"name":..,"protocol":..},"players":{"max":..,"online":..},
//  "description":{"text":..},"favicon":..} (favicon only when set), in that
// key order. Text that is not UTF-8 gets U+FFFD for each bad byte.
std::string StatusJson(const StatusInfo& info);

// {"text":"..."}: a chat text component holding `text`.
std::string TextComponent(std::string_view text);

}  // namespace plugins::minecraft
