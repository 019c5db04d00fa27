// A gateway's role in a high-availability pair (docs/ha.md), as keepalived's
// notify hook reports it: the master decides warms and drains, a backup or a
// node in fault follows. Shared by the config (ha.initial_role), the ctl
// protocol (the role request) and the engine. Header only, no I/O.
#pragma once

#include <cstdint>
#include <optional>
#include <string_view>

namespace common {

enum class HaRole : std::uint8_t { kMaster, kBackup, kFault };

// "master", "backup", "fault".
constexpr const char* HaRoleName(HaRole r) {
  switch (r) {
    case HaRole::kMaster: return "master";
    case HaRole::kBackup: return "backup";
    case HaRole::kFault: return "fault";
  }
  return "invalid";
}

// The role named `text` (lowercase, as HaRoleName writes it); nullopt otherwise.
constexpr std::optional<HaRole> ParseHaRole(std::string_view text) {
  for (HaRole r : {HaRole::kMaster, HaRole::kBackup, HaRole::kFault}) {
    if (text == HaRoleName(r)) return r;
  }
  return std::nullopt;
}

// For messages: the accepted names, quoted.
inline constexpr const char kHaRoleNames[] = "\"master\", \"backup\" or \"fault\"";

}  // namespace common
