// Where proxygwctl finds the engine: plugins.ctl.socket and plugins.ctl.codec
// of the engine's config file, read with yaml-cpp and nothing else checked,
// so that a config the engine would refuse (or a newer format) does not stop
// the client (B25: the original validated the whole file first).
#pragma once

#include <optional>
#include <string>

#include "common/ipc/ctl_protocol.h"
#include "common/status.h"

namespace proxygwctl {

struct CtlSettings {
  std::string socket;
  ipc::ctl::Codec codec = ipc::ctl::Codec::kJson;  // json when not written, or empty
};

// Reads `path`. Errors name the file (and the line of a bad value), with the
// original's wording where it had one:
//   config "<p>": <strerror>                        (cannot read it; IoError)
//   config "<p>": invalid YAML at line L, column C: <what>
//   config "<p>" does not define plugins.ctl
//   config "<p>" is missing plugins.ctl.socket
//   config "<p>" has invalid plugins.ctl.codec "<c>"
//   config "<p>", line L: plugins.ctl.socket must be an absolute path, got "<s>"
common::Result<CtlSettings> ReadCtlSettings(const std::string& path);

}  // namespace proxygwctl
