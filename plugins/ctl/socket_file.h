// The control socket's file: a listening Unix stream socket at a configured
// path. Opening it replaces the stale file a crashed engine left behind, but
// never a live engine's socket or a file that is not a socket; closing
// removes the file only while it is still the one this engine created (the
// original left it behind, so a restarted daemon could not bind: B2).
// Engine-side, called on the engine's loop; every call is a short syscall.
// The proxygw supervisor uses it too, as root, to bind the socket it passes
// down to the engine (inherited_socket.h).
#pragma once

#include <sys/types.h>

#include <string>

#include "common/status.h"
#include "common/unique_fd.h"

namespace ctl_plugin {

// Identifies the socket file that ListenAt created.
struct SocketFileId {
  dev_t dev = 0;
  ino_t ino = 0;
};

struct ListeningSocket {
  common::UniqueFd fd;  // listening, non-blocking, close-on-exec
  SocketFileId file;
};

// Creates a listening socket at `path` whose file has permission bits
// `mode`, and owner `uid` and group `gid` (-1: the caller's, as bind(2) made
// it; the proxygw supervisor binds for the engine's user). What was at `path`
// before decides:
//   - nothing: created;
//   - a socket nobody listens on (connecting is refused): the stale file of
//     an engine that died; replaced;
//   - a socket something accepts on: AlreadyExists ("another engine is
//     running"), left alone;
//   - anything else: AlreadyExists, left alone.
// Owner and mode are set before listen(), so nobody can connect while the
// file still has the umask's mode. Errors name the path; on error nothing of
// ours is left at `path`. The check and the replacement are not atomic
// against another process creating `path` at the same moment.
common::Result<ListeningSocket> ListenAt(const std::string& path, mode_t mode, int backlog,
                                         uid_t uid = static_cast<uid_t>(-1),
                                         gid_t gid = static_cast<gid_t>(-1));

// Removes `path` if it is still the socket file `file`. Ok when it was
// removed or is already gone; AlreadyExists (nothing removed) when another
// file has taken its place, so that a newer engine's socket survives.
common::Status RemoveSocketFile(const std::string& path, SocketFileId file);

}  // namespace ctl_plugin
