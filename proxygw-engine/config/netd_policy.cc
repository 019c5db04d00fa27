#include "proxygw-engine/config/netd_policy.h"

#include "proxygw-engine/config/root_file.h"
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
  return WriteFileAtomically(path, NetdPolicyText(cfg));
}

}  // namespace config
