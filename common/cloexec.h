// SetCloexec: marks a descriptor close-on-exec, for the ones a library
// created without SOCK_CLOEXEC/O_CLOEXEC (Boost.Asio's accept() and a
// socket's implicit open()). The engine creates its own descriptors with the
// flag; this is for the rest, so that no process the engine starts inherits
// a ctl connection, a probe socket or a log file. (static:cmd also closes
// everything above stderr when it spawns a backend.) Header-only.
#pragma once

#include <fcntl.h>

#include <cerrno>

#include "common/status.h"

namespace common {

inline Status SetCloexec(int fd) {
  int flags = ::fcntl(fd, F_GETFD);
  if (flags < 0 || ::fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
    return Status::FromErrno("set close-on-exec", errno);
  }
  return Status::Ok();
}

}  // namespace common
