#include "proxygw-supervisor/runtime_paths.h"

#include <fcntl.h>
#include <grp.h>
#include <sys/fsuid.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

namespace supervisor {
namespace {

using common::Result;
using common::Status;
using common::UniqueFd;

std::string Dirname(const std::string& path) {
  auto slash = path.rfind('/');
  return slash == 0 ? "/" : path.substr(0, slash);
}

// "owner uid 0, mode 0755", for refusals.
std::string OwnerAndMode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) != 0) return std::strerror(errno);
  char mode[8];
  std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 07777));
  return "owner uid " + std::to_string(st.st_uid) + ", mode " + mode;
}

}  // namespace

bool UserCan(const User& user, const std::string& path, int mode) {
  pid_t pid = ::fork();
  if (pid < 0) return false;
  if (pid == 0) {
    if (::setgroups(0, nullptr) != 0 || ::setgid(user.gid) != 0 || ::setuid(user.uid) != 0) {
      ::_exit(2);
    }
    ::_exit(::access(path.c_str(), mode) == 0 ? 0 : 1);
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

RuntimePaths::RuntimePaths(const config::Config& cfg,
                           const std::optional<ctl_plugin::CtlConfig>& ctl, User engine, User netd)
    : cfg_(cfg), ctl_(ctl), engine_(std::move(engine)), netd_(std::move(netd)) {}

Status RuntimePaths::Prepare() {
  Status st = PrepareStateDir();
  if (st.ok()) st = PrepareNetdSocket();
  if (st.ok()) st = PrepareCtlSocket();
  // Last, as it changes an existing file (the log's owner): nothing refuses
  // after it.
  if (st.ok()) st = PrepareLogFile();
  if (!st.ok()) {
    for (auto it = created_.rbegin(); it != created_.rend(); ++it) std::remove(it->c_str());
    created_.clear();
    netd_fd_.Reset();
    ctl_fd_.Reset();
  }
  return st;
}

Status RuntimePaths::PrepareStateDir() {
  const std::string& dir = cfg_.engine.state_dir;
  if (dir.empty()) return Status::Ok();
  auto created = MakeDirs("engine.state_dir", dir, engine_.uid, engine_.gid, 0750);
  if (!created.ok()) return created.status();
  if (!*created && !UserCan(engine_, dir, W_OK | X_OK)) {
    return Status::PermissionDenied("engine.state_dir: user " + engine_.name + " cannot write to " +
                                    dir + " (" + OwnerAndMode(dir) + "); chown it to " +
                                    engine_.name + ", or remove it and the supervisor creates it");
  }
  return Status::Ok();
}

Status RuntimePaths::PrepareNetdSocket() {
  const std::string& path = cfg_.netd.socket;
  const std::string dir = Dirname(path);
  auto created = MakeDirs("netd.socket", dir, 0, engine_.gid, 0750);
  if (!created.ok()) return created.status();
  if (!*created) {
    if (Status st = CheckEngineCanReach("netd.socket", dir); !st.ok()) return st;
  }
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::memcpy(addr.sun_path, path.c_str(), path.size() + 1);  // the loader bounds it
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Status::AlreadyExists(
          "netd.socket: " + path +
          " exists and is not a socket; remove it, or choose another path");
    }
    ::unlink(path.c_str());
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno("netd.socket: socket", errno);
  const mode_t old = ::umask(0117);  // 0660 from the start
  const int rc = ::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  ::umask(old);
  if (rc != 0) return Status::FromErrno("netd.socket: bind " + path, errno);
  created_.push_back(path);
  if (::fchownat(AT_FDCWD, path.c_str(), netd_.uid, engine_.gid, AT_SYMLINK_NOFOLLOW) != 0 ||
      ::listen(fd.get(), 8) != 0) {
    return Status::FromErrno("netd.socket: prepare " + path, errno);
  }
  netd_fd_ = std::move(fd);
  return Status::Ok();
}

// Bound here, as root, and handed down to the engine (inherited_socket.h):
// the engine's user may not create files in the directory (/run).
Status RuntimePaths::PrepareCtlSocket() {
  if (!ctl_) return Status::Ok();
  auto created = MakeDirs(ctl_->socket_path, Dirname(ctl_->socket), 0, 0, 0755);
  if (!created.ok()) return created.status();
  auto listening =
      ctl_plugin::ListenAt(ctl_->socket, ctl_->mode, SOMAXCONN, engine_.uid, engine_.gid);
  if (!listening.ok()) return listening.status().WithContext(ctl_->socket_path);
  created_.push_back(ctl_->socket);
  ctl_fd_ = std::move(listening->fd);
  ctl_file_ = listening->file;
  return Status::Ok();
}

// The engine opens the file by its path, as its user. Opened here without
// following links, and never created over something that is there: an
// existing file must be a regular file of root's or the engine's, lest
// someone with a foot in the directory (/tmp) has the supervisor hand another
// file to the engine.
Status RuntimePaths::PrepareLogFile() {
  const std::string& path = cfg_.log.output;
  if (path.front() != '/') return Status::Ok();  // stdout, stderr
  const std::string dir = Dirname(path);
  auto made_dir = MakeDirs("log.output", dir, 0, 0, 0755);
  if (!made_dir.ok()) return made_dir.status();
  if (!*made_dir) {
    if (Status st = CheckEngineCanReach("log.output", dir); !st.ok()) return st;
  }
  const std::string fix = "; remove it, or choose another path";
  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0 && !S_ISREG(st.st_mode)) {
    return Status::InvalidArgument("log.output: " + path + " is not a regular file" + fix);
  }
  // Without O_CREAT first: with fs.protected_regular, not even root may
  // O_CREAT-open another user's file in a sticky directory, such as the
  // engine's own log of the last run in /tmp. O_NONBLOCK: a FIFO put there
  // meanwhile does not hang the start.
  const int flags = O_WRONLY | O_APPEND | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC;
  UniqueFd fd(::open(path.c_str(), flags));
  bool created = false;
  if (!fd.valid() && errno == ENOENT) {
    fd.Reset(::open(path.c_str(), flags | O_CREAT | O_EXCL, 0600));
    created = fd.valid();
    if (created) created_.push_back(path);
  }
  if (!fd.valid() || ::fstat(fd.get(), &st) != 0) {
    return Status::FromErrno("log.output: open " + path, errno);
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::InvalidArgument("log.output: " + path + " is not a regular file" + fix);
  }
  // A hard link would hand its other names' file to the engine.
  if (st.st_nlink != 1) {
    return Status::InvalidArgument("log.output: " + path + " has other hard links" + fix);
  }
  if (st.st_uid != 0 && st.st_uid != engine_.uid) {
    return Status::PermissionDenied("log.output: " + path + " is owned by uid " +
                                    std::to_string(st.st_uid) + ", neither root nor " +
                                    engine_.name + " (engine.user)" + fix);
  }
  if (::fchown(fd.get(), engine_.uid, engine_.gid) != 0 ||
      (created && ::fchmod(fd.get(), 0640) != 0)) {
    return Status::FromErrno("log.output: hand " + path + " to " + engine_.name, errno);
  }
  return Status::Ok();
}

Result<bool> RuntimePaths::MakeDirs(const std::string& field, const std::string& dir, uid_t uid,
                                    gid_t gid, mode_t mode) {
  const std::size_t end = dir.find_last_not_of('/');
  const std::string target = end == std::string::npos ? "/" : dir.substr(0, end + 1);
  for (std::size_t slash = target.find('/', 1);; slash = target.find('/', slash + 1)) {
    const bool last = slash == std::string::npos;
    const std::string part = last ? target : target.substr(0, slash);
    if (::mkdir(part.c_str(), 0700) == 0) {
      created_.push_back(part);
      // Owner and mode through a handle on what was just made, never through
      // a link put in its place.
      UniqueFd fd(::open(part.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!fd.valid() || ::fchown(fd.get(), last ? uid : 0, last ? gid : 0) != 0 ||
          ::fchmod(fd.get(), last ? mode : 0755) != 0) {
        return Status::FromErrno(field + ": create " + part, errno);
      }
      if (last) return true;
    } else if (errno != EEXIST) {
      return Status::FromErrno(field + ": create " + part, errno);
    } else if (struct stat st{}; ::stat(part.c_str(), &st) != 0 || !S_ISDIR(st.st_mode)) {
      return Status::InvalidArgument(field + ": " + part +
                                     " is not a directory; remove it, or choose another path");
    } else if (last) {
      return false;
    }
  }
}

Status RuntimePaths::CheckEngineCanReach(const std::string& field, const std::string& dir) {
  if (UserCan(engine_, dir, X_OK)) return Status::Ok();
  return Status::PermissionDenied(field + ": user " + engine_.name + " cannot reach " + dir + " (" +
                                  OwnerAndMode(dir) +
                                  "); let it search that directory and those above it (chmod "
                                  "o+x), or choose another path");
}

template <class F>
Status RuntimePaths::RemoveAsRootOrEngine(F remove) {
  Status st = remove();
  if (st.ok() || (st.sys_errno() != EACCES && st.sys_errno() != EPERM)) return st;
  ::setfsgid(engine_.gid);
  ::setfsuid(engine_.uid);
  st = remove();
  ::setfsuid(0);
  ::setfsgid(0);
  return st;
}

Status RuntimePaths::RemoveSockets() {
  Status netd = RemoveAsRootOrEngine([&] {
    const std::string& path = cfg_.netd.socket;
    return ::unlink(path.c_str()) == 0 || errno == ENOENT
               ? Status::Ok()
               : Status::FromErrno("remove netd socket " + path, errno);
  });
  Status ctl;
  if (ctl_fd_.valid()) {
    ctl =
        RemoveAsRootOrEngine([&] { return ctl_plugin::RemoveSocketFile(ctl_->socket, ctl_file_); });
  }
  return netd.ok() ? ctl : netd;
}

}  // namespace supervisor
