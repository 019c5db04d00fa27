#include "plugins/ctl/peer_policy.h"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>

namespace ctl_plugin {

common::Result<Peer> PeerOf(int fd) {
  ucred cred{};
  socklen_t len = sizeof cred;
  if (::getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
    return common::Status::FromErrno("SO_PEERCRED", errno);
  }
  Peer peer{cred.pid, cred.uid, {cred.gid}};
  // SO_PEERGROUPS answers ERANGE with the size it needs.
  std::vector<gid_t> groups(16);
  for (int attempt = 0; attempt < 3; ++attempt) {
    len = static_cast<socklen_t>(groups.size() * sizeof(gid_t));
    if (::getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, groups.data(), &len) == 0) {
      groups.resize(len / sizeof(gid_t));
      peer.groups.insert(peer.groups.end(), groups.begin(), groups.end());
      return peer;
    }
    if (errno != ERANGE) return common::Status::FromErrno("SO_PEERGROUPS", errno);
    groups.resize(len / sizeof(gid_t) + 1);
  }
  return common::Status::FromErrno("SO_PEERGROUPS", ERANGE);
}

common::Status CheckPeer(const Peer& peer, const CtlConfig& config, uid_t engine_uid,
                         gid_t engine_gid) {
  if (peer.uid == 0 || peer.uid == engine_uid) return common::Status::Ok();
  const bool defaults = config.allow_users.empty() && config.allow_groups.empty();
  if (std::find(config.allow_users.begin(), config.allow_users.end(), peer.uid) !=
      config.allow_users.end()) {
    return common::Status::Ok();
  }
  for (gid_t g : peer.groups) {
    if (defaults ? g == engine_gid
                 : std::find(config.allow_groups.begin(), config.allow_groups.end(), g) !=
                       config.allow_groups.end()) {
      return common::Status::Ok();
    }
  }
  const std::string who = "uid " + std::to_string(peer.uid) + " may not use the control socket: ";
  return common::Status::PermissionDenied(
      defaults ? who +
                     "only root, the engine's user and members of its group may (see "
                     "plugins.ctl.allow_users and allow_groups)"
               : who +
                     "it is not root, the engine's user, in plugins.ctl.allow_users or in a "
                     "group of plugins.ctl.allow_groups");
}

}  // namespace ctl_plugin
