// netd's mapping policy derived from the config: every (protocol, listen,
// destination) the config's frontends declare, with each listen key's ct mark
// id, in the format netd reads (proxygw-netd/policy.h). Root-side code: `proxygw-engine
// --write-netd-policy` (the unit's ExecStartPre=+ step, as root) and the
// supervisor run it; the engine at run time never writes the policy.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "common/ipc/netd_protocol.h"
#include "common/status.h"
#include "proxygw-engine/config/config.h"

namespace config {

// One mapping of the config as netd receives it.
ipc::netd::Mapping ToNetd(const Mapping& m);

// Every mapping the config declares, as netd receives them.
std::vector<ipc::netd::Mapping> NetdMappings(const Config& cfg);

// The mark ids the writer gives: those of the default ct mark mask
// (0xffff0000). Past them, removed keys' ids are given again.
inline constexpr std::uint32_t kMaxPolicyMarkId = 65535;

// The policy's text: a comment naming the config, one line per mapping with
// the mark id of its listen key, then a "# removed tcp 0.0.0.0:80 mark 3"
// comment per listen key that went, whose id is kept from new keys. Ids come
// from `previous`, the text of the policy this one replaces ("" if none; one
// netd would refuse, as the files written before marks, counts as none): a
// key it declares keeps its id, and so does a key it lists as removed that
// comes back. A new key gets the lowest id that no key has and no removed key
// keeps; when none is left up to `max_id`, the lowest kept one. So the same
// config and previous text give the same marks on every machine.
std::string NetdPolicyText(const Config& cfg, std::string_view previous = "",
                           std::uint32_t max_id = kMaxPolicyMarkId);

// Writes NetdPolicyText to `path` (mode 0644), the file there now (if any)
// being the previous text, replacing it atomically: a netd starting
// meanwhile reads the old policy or the new one, never half. Error: the path
// and what failed.
common::Status WriteNetdPolicy(const Config& cfg, const std::string& path);

}  // namespace config
