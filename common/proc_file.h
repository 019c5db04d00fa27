// ReadProcFile: the whole of a small /proc file (a process's stat, environ),
// or nullopt. Read with read(2), never through an iostream's buffer: a
// process that exits between open and read makes read fail with ESRCH, and
// libstdc++'s filebuf throws std::ios_base::failure from underflow, which
// istreambuf_iterator does not catch (the engine died of it while draining a
// backend). Header-only; the engine's side, not netd's.
#pragma once

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <optional>
#include <string>

#include "common/unique_fd.h"

namespace common {

// Everything left to read on `fd`, at most `limit` bytes; nullopt on a read
// error (ESRCH from a process that is gone) or past the limit.
inline std::optional<std::string> ReadAll(int fd, std::size_t limit = 1 << 20) {
  std::string out;
  char buf[4096];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return std::nullopt;
    if (n == 0) return out;
    out.append(buf, static_cast<std::size_t>(n));
    if (out.size() > limit) return std::nullopt;
  }
}

inline std::optional<std::string> ReadProcFile(const std::string& path) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return std::nullopt;
  return ReadAll(fd.get());
}

}  // namespace common
