#include "proxygw-engine/config/netd_policy.h"

#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>
#include <sstream>
#include <utility>

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

namespace {

using ipc::netd::MappingKey;
using IdsByKey = std::map<MappingKey, std::uint32_t>;

constexpr std::string_view kRemoved = "# removed ";

// A "# removed tcp 0.0.0.0:80 mark 3" line's key and id, after the prefix.
std::optional<std::pair<MappingKey, std::uint32_t>> ParseRemoved(std::string_view line) {
  std::istringstream in{std::string(line)};
  std::string proto, listen, word;
  std::uint32_t id = 0;
  if (!(in >> proto >> listen >> word >> id) || word != "mark" || id == 0) return std::nullopt;
  auto key = netd::Policy::ParseKey(proto, listen);
  if (!key.ok()) return std::nullopt;
  return std::pair{*key, id};
}

// The ids `previous` declares, and those it keeps for removed keys.
std::pair<IdsByKey, IdsByKey> PreviousIds(std::string_view previous) {
  auto declared = netd::Policy::Parse(previous);
  if (!declared.ok()) return {};
  IdsByKey removed;
  std::istringstream in{std::string(previous)};
  for (std::string line; std::getline(in, line);) {
    if (line.rfind(kRemoved, 0) != 0) continue;
    if (auto r = ParseRemoved(std::string_view(line).substr(kRemoved.size()))) removed.insert(*r);
  }
  return {declared->MarkIds(), std::move(removed)};
}

}  // namespace

std::string NetdPolicyText(const Config& cfg, std::string_view previous, std::uint32_t max_id) {
  auto [declared, removed] = PreviousIds(previous);
  auto mappings = NetdMappings(cfg);
  IdsByKey ids;  // this policy's
  std::set<std::uint32_t> taken;
  for (const auto& m : mappings) {
    for (const IdsByKey* from : {&declared, &removed}) {
      auto it = from->find(m.key);
      if (it != from->end() && !ids.count(m.key) && taken.insert(it->second).second) {
        ids[m.key] = it->second;
      }
    }
  }
  std::map<std::uint32_t, MappingKey> kept;  // ids of keys that went
  for (const IdsByKey* from : {&declared, &removed}) {
    for (const auto& [k, id] : *from) {
      if (!ids.count(k) && !taken.count(id)) kept.emplace(id, k);
    }
  }
  std::uint32_t next = 1;
  for (const auto& m : mappings) {
    if (ids.count(m.key)) continue;
    while (taken.count(next) || (next <= max_id && kept.count(next))) ++next;
    std::uint32_t id = next;
    if (next > max_id && !kept.empty()) {
      id = kept.begin()->first;
      kept.erase(kept.begin());
    }
    ids[m.key] = id;
    taken.insert(id);
  }
  // One line per mapping, in the format netd::Policy::Parse reads.
  std::string text = "# proxygw-netd's policy, written from " + cfg.file + "; do not edit\n";
  for (const auto& m : mappings) {
    text += std::string(ipc::netd::ProtoName(m.key.proto)) + " " +
            common::AddrPort{m.key.listen, m.key.port}.ToString() + " " + m.destination.ToString() +
            " mark " + std::to_string(ids.at(m.key)) + "\n";
  }
  for (const auto& [id, k] : kept) {
    text += std::string(kRemoved) + k.ToString() + " mark " + std::to_string(id) + "\n";
  }
  return text;
}

common::Status WriteNetdPolicy(const Config& cfg, const std::string& path) {
  std::ifstream in(path);
  std::string previous{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  return WriteFileAtomically(path, NetdPolicyText(cfg, previous));
}

}  // namespace config
