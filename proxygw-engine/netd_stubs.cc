#include "proxygw-engine/netd_stubs.h"

#include <algorithm>
#include <set>

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

Status TooMany(std::size_t n, const char* what) {
  return Status::InvalidArgument(std::to_string(n) + " " + what + "; one request carries at most " +
                                 std::to_string(kMaxItemsPerMessage));
}

}  // namespace

Installed::Installed(const Owned& owned) {
  for (const auto& [owner, ms] : owned) Set(owner, ms);
}

void Installed::Set(const std::string& owner, const std::vector<Mapping>& mappings) {
  Erase(owner);
  if (mappings.empty()) return;
  for (const auto& m : mappings) {
    owner_of_[m.key] = owner;
    index_.Add(m.key);
  }
  total_ += mappings.size();
  owned_[owner] = mappings;
}

void Installed::Erase(const std::string& owner) {
  auto it = owned_.find(owner);
  if (it == owned_.end()) return;
  for (const auto& m : it->second) {
    owner_of_.erase(m.key);
    index_.Remove(m.key);
  }
  total_ -= it->second.size();
  owned_.erase(it);
}

Result<ChangeRequest> Installed::Enable(const std::string& owner, const std::vector<Mapping>& mappings,
                                        std::uint32_t max_mappings) const {
  if (mappings.size() > kMaxItemsPerMessage) return TooMany(mappings.size(), "mappings");
  static const std::vector<Mapping> kNone;
  auto mine = owned_.find(owner);
  const std::vector<Mapping>& had = mine == owned_.end() ? kNone : mine->second;
  std::set<MappingKey> keys;
  std::vector<MappingKey> entering, leaving;
  for (const auto& m : mappings) {
    if (Status st = netd::ValidateMapping(m); !st.ok()) return st;
    if (!keys.insert(m.key).second) return Status::InvalidArgument(m.key.ToString() + ": listed twice");
    auto other = owner_of_.find(m.key);
    if (other == owner_of_.end()) {
      entering.push_back(m.key);
    } else if (other->second != owner) {
      return Status::InvalidArgument(m.key.ToString() + ": already forwarded for target " +
                                     other->second);
    }
  }
  ChangeRequest c;
  for (const auto& old : had) {
    if (!keys.count(old.key)) {
      leaving.push_back(old.key);
      c.disable.push_back(old.key);
    }
  }
  if (Status st = netd::ValidateCount(total_ - had.size() + mappings.size(), max_mappings); !st.ok()) {
    return Status::InvalidArgument(st.message() + " (proxygw-netd --max-mappings)");
  }
  if (index_.Overlaps(entering, leaving)) {
    // Refused: netd's check of the whole set names the mapping that overlaps.
    std::map<MappingKey, Mapping> whole;
    for (const auto& [o, ms] : owned_) {
      if (o == owner) continue;
      for (const auto& m : ms) whole.emplace(m.key, m);
    }
    for (const auto& m : mappings) whole.emplace(m.key, m);
    Status st = netd::ValidateSet(whole, max_mappings);
    return st.ok() ? Status::InvalidArgument("a wildcard and a specific mapping of the same port")
                   : st;
  }
  c.enable = mappings;
  return c;
}

ChangeRequest Installed::Disable(const std::string& owner) const {
  ChangeRequest c;
  if (auto it = owned_.find(owner); it != owned_.end()) {
    for (const auto& m : it->second) c.disable.push_back(m.key);
  }
  return c;
}

Result<ChangeRequest> Enable(const Owned& installed, const std::string& owner,
                             const std::vector<Mapping>& mappings, std::uint32_t max_mappings) {
  return Installed(installed).Enable(owner, mappings, max_mappings);
}

ChangeRequest Disable(const Owned& installed, const std::string& owner) {
  return Installed(installed).Disable(owner);
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
  Installed accepted;
  for (const auto& [owner, ms] : desired) {
    if (auto c = accepted.Enable(owner, ms, max_mappings); !c.ok()) {
      plan.refused.emplace_back(owner, c.status());
      continue;
    }
    accepted.Set(owner, ms);
    plan.mappings.insert(plan.mappings.end(), ms.begin(), ms.end());
  }
  return plan;
}

}  // namespace engine::netd_stubs
