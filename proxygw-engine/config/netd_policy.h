// netd's mapping policy derived from the config: every (protocol, listen,
// destination) the config's frontends declare, in the format netd reads
// (proxygw-netd/policy.h). Root-side code: `proxygw-engine
// --write-netd-policy` (the unit's ExecStartPre=+ step, as root) and the
// supervisor run it; the engine at run time never writes the policy.
#pragma once

#include <string>
#include <vector>

#include "common/ipc/netd_protocol.h"
#include "common/status.h"
#include "proxygw-engine/config/config.h"

namespace config {

// One mapping of the config as netd receives it.
ipc::netd::Mapping ToNetd(const Mapping& m);

// Every mapping the config declares, as netd receives them.
std::vector<ipc::netd::Mapping> NetdMappings(const Config& cfg);

// The policy's text: a comment naming the config, then one line per mapping.
std::string NetdPolicyText(const Config& cfg);

// Writes NetdPolicyText to `path` (mode 0644), replacing it atomically: a
// netd starting meanwhile reads the old policy or the new one, never half.
// Error: the path and what failed.
common::Status WriteNetdPolicy(const Config& cfg, const std::string& path);

}  // namespace config
