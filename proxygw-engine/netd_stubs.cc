#include "proxygw-engine/netd_stubs.h"

#include <algorithm>

#include "proxygw-netd/validate.h"

namespace engine::netd_stubs {

using common::Result;
using common::Status;
using ipc::netd::ChangeRequest;
using ipc::netd::FlushRequest;
using ipc::netd::kMaxItemsPerMessage;
using ipc::netd::Mapping;
using ipc::netd::MappingKey;

namespace {

using Set = std::map<MappingKey, std::pair<std::string, Mapping>>;  // key -> owner, mapping

Status TooMany(std::size_t n, const char* what) {
  return Status::InvalidArgument(std::to_string(n) + " " + what + "; one request carries at most " +
                                 std::to_string(kMaxItemsPerMessage));
}

// Whether `owner`'s `ms` may join `set`, all held by netd, under netd's rules:
// each mapping on its own, keys unique, the count within `max_mappings`, no
// wildcard and specific listen address of one port. `index` holds the keys
// of `set`.
Status CheckJoin(const Set& set, const netd::PortIndex& index, const std::string& owner,
                 const std::vector<Mapping>& ms, std::uint32_t max_mappings) {
  std::map<MappingKey, const Mapping*> mine;
  std::vector<MappingKey> keys;
  for (const auto& m : ms) {
    if (Status st = netd::ValidateMapping(m); !st.ok()) return st;
    if (!mine.emplace(m.key, &m).second) {
      return Status::InvalidArgument(m.key.ToString() + ": listed twice");
    }
    auto other = set.find(m.key);
    if (other != set.end() && other->second.first != owner) {
      return Status::InvalidArgument(m.key.ToString() + ": already forwarded for target " +
                                     other->second.first);
    }
    keys.push_back(m.key);
  }
  if (Status st = netd::ValidateCount(set.size() + ms.size(), max_mappings); !st.ok()) {
    return Status::InvalidArgument(st.message() + " (proxygw-netd --max-mappings)");
  }
  if (!index.Overlaps(keys, {})) return Status::Ok();
  // Refused: netd's check of the whole set names the mapping that overlaps.
  std::map<MappingKey, Mapping> whole;
  for (const auto& [k, om] : set) whole.emplace(k, om.second);
  for (const auto& m : ms) whole.emplace(m.key, m);
  Status st = netd::ValidateSet(whole, max_mappings);
  return st.ok() ? Status::InvalidArgument("a wildcard and a specific mapping of the same port")
                 : st;
}

// Every owner's mappings but `except`'s, with their index.
Set Others(const Owned& owned, const std::string& except, netd::PortIndex* index) {
  Set set;
  for (const auto& [owner, ms] : owned) {
    if (owner == except) continue;
    for (const auto& m : ms) {
      set.emplace(m.key, std::make_pair(owner, m));
      index->Add(m.key);
    }
  }
  return set;
}

}  // namespace

Result<ChangeRequest> Enable(const Owned& installed, const std::string& owner,
                             const std::vector<Mapping>& mappings, std::uint32_t max_mappings) {
  if (mappings.size() > kMaxItemsPerMessage) return TooMany(mappings.size(), "mappings");
  netd::PortIndex index;
  Set others = Others(installed, owner, &index);
  if (Status st = CheckJoin(others, index, owner, mappings, max_mappings); !st.ok()) return st;
  ChangeRequest c;
  c.enable = mappings;
  if (auto it = installed.find(owner); it != installed.end()) {
    for (const auto& old : it->second) {
      bool kept = std::any_of(mappings.begin(), mappings.end(),
                              [&](const Mapping& m) { return m.key == old.key; });
      if (!kept) c.disable.push_back(old.key);
    }
  }
  return c;
}

ChangeRequest Disable(const Owned& installed, const std::string& owner) {
  ChangeRequest c;
  if (auto it = installed.find(owner); it != installed.end()) {
    for (const auto& m : it->second) c.disable.push_back(m.key);
  }
  return c;
}

Result<FlushRequest> Flush(const std::vector<MappingKey>& keys) {
  if (keys.size() > kMaxItemsPerMessage) return TooMany(keys.size(), "keys");
  for (const auto& k : keys) {
    if (Status st = netd::ValidateKey(k); !st.ok()) return st;
  }
  return FlushRequest{keys};
}

SyncPlan PlanSync(const Owned& desired, std::uint32_t max_mappings) {
  SyncPlan plan;
  Set set;
  netd::PortIndex index;
  for (const auto& [owner, ms] : desired) {
    if (Status st = CheckJoin(set, index, owner, ms, max_mappings); !st.ok()) {
      plan.refused.emplace_back(owner, st);
      continue;
    }
    for (const auto& m : ms) {
      set.emplace(m.key, std::make_pair(owner, m));
      index.Add(m.key);
      plan.mappings.push_back(m);
    }
  }
  return plan;
}

}  // namespace engine::netd_stubs
