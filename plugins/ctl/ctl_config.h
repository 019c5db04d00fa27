// The ctl plugin's settings, `plugins.ctl` in the engine's config: where the
// control socket lives, the codec it speaks and the socket file's mode.
// Checking them touches nothing (--check-config runs it too). Engine-side.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "common/ipc/ctl_protocol.h"
#include "proxygw-engine/config/config.h"
#include "proxygw-engine/config/yaml_reader.h"

namespace ctl_plugin {

// sockaddr_un's sun_path holds 108 bytes, with the terminating NUL.
inline constexpr std::size_t kMaxSocketPathBytes = 107;

struct CtlConfig {
  std::string socket;  // absolute, at most kMaxSocketPathBytes
  ipc::ctl::Codec codec = ipc::ctl::Codec::kJson;
  mode_t mode = 0660;  // permission bits of the socket file
  // Who may send requests, checked against the peer's credentials
  // (SO_PEERCRED, SO_PEERGROUPS) whatever the file's mode lets connect:
  // root and the engine's own user always; then these users, and members of
  // these groups. Both empty (the default): members of the engine's group.
  std::vector<uid_t> allow_users;
  std::vector<gid_t> allow_groups;
  // Where `socket` was written, for errors found when it is opened.
  std::string socket_path;  // "plugins.ctl.socket"
  config::Location socket_location;
};

// Reads plugins.ctl (`options`, not null: a config without the section has
// no control socket, which the plugin handles before calling this):
//   socket: required; an absolute path of at most 107 bytes.
//   codec:  optional; "json" (default) or "cbor", trimmed, any case.
//   mode:   optional; 3 octal digits with an optional leading 0 ("0660"),
//           quoted or not; default 0660.
//   allow_users, allow_groups: optional lists of user (group) names or
//           numeric ids; names must exist (NSS).
// Unknown keys are errors. Every problem is reported into `errors` with its
// location; the result is nullopt when there was any.
std::optional<CtlConfig> ReadCtlConfig(const config::Options& options, config::ErrorSink& errors);

}  // namespace ctl_plugin
