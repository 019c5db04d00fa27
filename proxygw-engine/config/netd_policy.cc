#include "proxygw-engine/config/netd_policy.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "common/unique_fd.h"
#include "proxygw-netd/policy.h"

namespace config {

ipc::netd::Mapping ToNetd(const Mapping& m) {
  return ipc::netd::Mapping{
      ipc::netd::MappingKey{
          m.protocol == Protocol::kTcp ? ipc::netd::Proto::kTcp : ipc::netd::Proto::kUdp,
          m.listen.address, m.listen.port},
      m.destination, m.flow_timeout_s};
}

std::vector<ipc::netd::Mapping> NetdMappings(const Config& cfg) {
  std::vector<ipc::netd::Mapping> out;
  for (const auto& f : cfg.frontends) {
    for (const auto& m : cfg.MappingsOf(f)) out.push_back(ToNetd(m));
  }
  return out;
}

std::string NetdPolicyText(const Config& cfg) {
  return "# proxygw-netd's policy, written from " + cfg.file + "; do not edit\n" +
         netd::Policy::Format(NetdMappings(cfg));
}

common::Status WriteNetdPolicy(const Config& cfg, const std::string& path) {
  std::string text = NetdPolicyText(cfg);
  std::string tmp = path + ".new";
  unlink(tmp.c_str());
  common::UniqueFd fd(open(tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644));
  if (!fd.valid()) return common::Status::FromErrno("create " + tmp, errno);
  bool ok = fchmod(fd.get(), 0644) == 0 &&
            write(fd.get(), text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
            fsync(fd.get()) == 0;
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
