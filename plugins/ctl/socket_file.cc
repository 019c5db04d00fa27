#include "plugins/ctl/socket_file.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

namespace ctl_plugin {
namespace {

using common::Result;
using common::Status;

// Whether something accepts connections on the socket at `addr`. The probe
// is non-blocking: a Unix connect either completes at once, is refused, or
// finds the backlog full (which also means a listener).
Result<bool> SomethingListens(const sockaddr_un& addr) {
  common::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno("socket", errno);
  if (::connect(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) == 0) return true;
  switch (errno) {
    case EAGAIN:
      return true;
    case ECONNREFUSED:
    case ENOENT:  // removed meanwhile
      return false;
    default:
      return Status::FromErrno("connect", errno);
  }
}

}  // namespace

Result<ListeningSocket> ListenAt(const std::string& path, mode_t mode, int backlog, uid_t uid,
                                 gid_t gid) {
  const std::string what = "ctl socket \"" + path + "\"";
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (path.empty() || path.size() >= sizeof addr.sun_path || path.find('\0') != std::string::npos) {
    return Status::InvalidArgument(what + ": not a usable socket path (at most " +
                                   std::to_string(sizeof addr.sun_path - 1) + " bytes)");
  }
  std::memcpy(addr.sun_path, path.data(), path.size());

  struct stat st {};
  if (::lstat(path.c_str(), &st) == 0) {
    if (!S_ISSOCK(st.st_mode)) {
      return Status::AlreadyExists(what + ": the path exists and is not a socket; refusing to "
                                          "replace it (remove it, or choose another path)");
    }
    Result<bool> live = SomethingListens(addr);
    if (!live.ok()) {
      return live.status().WithContext(what + ": cannot tell whether another engine uses it");
    }
    if (*live) {
      return Status::AlreadyExists(what + " is in use: another proxygw-engine is running and "
                                          "accepting connections on it; stop it first");
    }
    if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
      return Status::FromErrno(what + ": remove the stale socket file", errno);
    }
  } else if (errno != ENOENT) {
    return Status::FromErrno(what + ": stat", errno);
  }

  common::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (!fd.valid()) return Status::FromErrno(what + ": socket", errno);
  if (::bind(fd.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr) != 0) {
    return Status::FromErrno(what + ": bind", errno);
  }
  // The file is ours from here: remove it again if a later step fails.
  auto fail = [&](const char* step) {
    const int err = errno;
    ::unlink(path.c_str());
    return Status::FromErrno(what + ": " + step, err);
  };
  struct stat bound {};
  if (::stat(path.c_str(), &bound) != 0) return fail("stat");
  // By path, as sockets have no other handle to their file, but never through
  // a link that something put there meanwhile: the supervisor calls this as
  // root.
  // Only when asked: the engine binds for itself, and its unit's syscall
  // filter kills it on any chown (@privileged).
  if ((uid != static_cast<uid_t>(-1) || gid != static_cast<gid_t>(-1)) &&
      ::fchownat(AT_FDCWD, path.c_str(), uid, gid, AT_SYMLINK_NOFOLLOW) != 0) {
    return fail("chown");
  }
  if (::fchmodat(AT_FDCWD, path.c_str(), mode, AT_SYMLINK_NOFOLLOW) != 0) return fail("chmod");
  if (::listen(fd.get(), backlog) != 0) return fail("listen");
  return ListeningSocket{std::move(fd), SocketFileId{bound.st_dev, bound.st_ino}};
}

Status RemoveSocketFile(const std::string& path, SocketFileId file) {
  const std::string what = "ctl socket \"" + path + "\"";
  struct stat st {};
  if (::lstat(path.c_str(), &st) != 0) {
    return errno == ENOENT ? Status::Ok() : Status::FromErrno(what + ": stat", errno);
  }
  if (!S_ISSOCK(st.st_mode) || st.st_dev != file.dev || st.st_ino != file.ino) {
    return Status::AlreadyExists(what + " was replaced by another file; leaving it in place");
  }
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) {
    return Status::FromErrno(what + ": remove", errno);
  }
  return Status::Ok();
}

}  // namespace ctl_plugin
