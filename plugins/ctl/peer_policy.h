// Who may use the control socket. The socket file's mode decides who can
// connect; this decides, from the connected peer's credentials (SO_PEERCRED
// and SO_PEERGROUPS, taken by the kernel at connect time, so they cannot be
// forged), who may send requests: root and the engine's own user always,
// then plugins.ctl.allow_users and members of plugins.ctl.allow_groups, or,
// when neither is set, members of the engine's group. Engine-side.
#pragma once

#include <sys/types.h>

#include <vector>

#include "common/status.h"
#include "plugins/ctl/ctl_config.h"

namespace ctl_plugin {

struct Peer {
  pid_t pid = 0;
  uid_t uid = 0;
  std::vector<gid_t> groups;  // its primary group first, then the others
};

// The peer of the connected Unix socket `fd`. Error: the kernel would not say.
common::Result<Peer> PeerOf(int fd);

// Ok when `peer` may send requests to an engine running as `engine_uid` and
// `engine_gid`; PermissionDenied otherwise, naming the peer's uid and the
// options that would let it in.
common::Status CheckPeer(const Peer& peer, const CtlConfig& config, uid_t engine_uid,
                         gid_t engine_gid);

}  // namespace ctl_plugin
