#include "proxygw-engine/config/root_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/unique_fd.h"

namespace config {

common::Status WriteFileAtomically(const std::string& path, const std::string& text, mode_t mode,
                                   bool durable) {
  std::string tmp = path + ".new";
  unlink(tmp.c_str());
  common::UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
  if (!fd.valid()) return common::Status::FromErrno("create " + tmp, errno);
  bool ok = fchmod(fd.get(), mode) == 0 &&
            write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            (!durable || fsync(fd.get()) == 0);
  int err = errno;
  fd.Reset();
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    if (ok) err = errno;
    unlink(tmp.c_str());
    return common::Status::FromErrno("write " + path, err);
  }
  return common::Status::Ok();
}

}  // namespace config
