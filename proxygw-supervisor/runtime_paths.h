// What the supervisor prepares on the file system, as root, before it starts
// its children: the engine's state directory, netd's socket, the ctl socket
// and the log file, with the directories they live in. It creates what is
// missing and sets owner and mode only on what it created; an existing
// directory (/run, /tmp, ...) is never changed, only checked for what the
// engine's user needs there. All or nothing: after a refusal, what it created
// is gone again. Supervisor-side; Prepare runs before the supervisor drops
// its capabilities.
#pragma once

#include <sys/types.h>

#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "common/unique_fd.h"
#include "plugins/ctl/ctl_config.h"
#include "plugins/ctl/socket_file.h"
#include "proxygw-engine/config/config.h"

namespace supervisor {

struct User {
  std::string name;
  uid_t uid = 0;
  gid_t gid = 0;
};

// Whether `user`, with its uid and primary group alone (as the supervisor
// runs the engine), passes access(2) with `mode` (R_OK, W_OK | X_OK, ...) on
// `path`, the directories on the way included. Forks a child that switches to
// the user: needs CAP_SETUID and CAP_SETGID.
bool UserCan(const User& user, const std::string& path, int mode);

class RuntimePaths {
 public:
  // `ctl`: plugins.ctl, when the config has that section.
  RuntimePaths(const config::Config& cfg, const std::optional<ctl_plugin::CtlConfig>& ctl,
               User engine, User netd);
  RuntimePaths(const RuntimePaths&) = delete;
  RuntimePaths& operator=(const RuntimePaths&) = delete;

  // In order, each directory created when missing (intermediate ones 0755
  // root), and checked when it exists:
  //   - engine.state_dir: created 0750 for the engine's user and group (as
  //     the unit's RuntimeDirectoryMode, so that the group reaches a ctl
  //     socket inside); an existing one must be writable and searchable by
  //     that user;
  //   - netd.socket: its directory created 0750 root with the engine's group,
  //     an existing one must be searchable by the engine's user; the socket
  //     is bound here, netd's user and the engine's group, 0660;
  //   - plugins.ctl.socket: its directory created 0755 root; the socket is
  //     bound here (socket_file.h: ListenAt; a live socket or another file
  //     is refused), the engine's user and group, plugins.ctl.mode;
  //   - log.output, when a path: its directory created 0755 root, an existing
  //     one must be searchable by the engine's user; the file is created
  //     0640, or must be a regular file of root's or the engine's user, and
  //     is handed to the engine's user.
  // Error: one line naming the config field, the path and what to do about
  // it; what this call created is removed again.
  common::Status Prepare();

  // Listening sockets to hand down; -1 before Prepare (ctl: or without
  // plugins.ctl).
  int netd_socket() const { return netd_fd_.get(); }
  int ctl_socket() const { return ctl_fd_.get(); }

  // Removes the two socket files (the supervisor stops). Error: what could
  // not be removed, and why; the rest is removed all the same.
  common::Status RemoveSockets();

 private:
  common::Status PrepareStateDir();
  common::Status PrepareNetdSocket();
  common::Status PrepareCtlSocket();
  common::Status PrepareLogFile();
  // mkdir -p `dir`; true when it created `dir` itself.
  common::Result<bool> MakeDirs(const std::string& field, const std::string& dir, uid_t uid,
                                gid_t gid, mode_t mode);
  // Refuses when the engine's user cannot search the existing `dir`.
  common::Status CheckEngineCanReach(const std::string& field, const std::string& dir);
  // Runs `remove` as root, then, refused, with the engine user's file-system
  // ids: the supervisor keeps no CAP_DAC_OVERRIDE, and a socket may sit in
  // a directory of the engine's (the default /run/proxygw/ctl.sock).
  template <class F>
  common::Status RemoveAsRootOrEngine(F remove);

  const config::Config& cfg_;
  std::optional<ctl_plugin::CtlConfig> ctl_;
  User engine_;
  User netd_;
  common::UniqueFd netd_fd_;
  common::UniqueFd ctl_fd_;
  ctl_plugin::SocketFileId ctl_file_;
  std::vector<std::string> created_;  // in creation order, for a refusal to undo
};

}  // namespace supervisor
