#include "plugins/ctl/inherited_socket.h"

#include <sys/socket.h>

#include <cstdlib>
#include <cstring>

#include <systemd/sd-daemon.h>

namespace ctl_plugin {

using common::Status;
using common::UniqueFd;

common::Result<UniqueFd> TakeInheritedSocket(const std::string& path) {
  char** names = nullptr;
  const int n = sd_listen_fds_with_names(/*unset_environment=*/1, &names);
  if (n < 0) return Status::FromErrno("inherited sockets (LISTEN_FDS)", -n);
  UniqueFd fd;
  for (int i = 0; i < n; ++i) {
    if (!fd.valid() && std::strcmp(names[i], kInheritedSocketName) == 0) {
      fd.Reset(SD_LISTEN_FDS_START + i);
    }
    std::free(names[i]);
  }
  std::free(names);
  if (!fd.valid()) return fd;
  const std::string what = "inherited ctl socket (fd " + std::to_string(fd.get()) + ")";
  const int fits = sd_is_socket_unix(fd.get(), SOCK_STREAM, /*listening=*/1, path.c_str(), 0);
  if (fits < 0) return Status::FromErrno(what, -fits);
  if (fits == 0) {
    return Status::InvalidArgument(what + " is not a listening Unix stream socket bound to \"" +
                                   path + "\"");
  }
  return fd;
}

}  // namespace ctl_plugin
