#include "proxygw-netd/flow_counter.h"

#include <algorithm>
#include <utility>

namespace netd {

using ipc::netd::DestinationCount;
using ipc::netd::Proto;

FlowCounter::Dest FlowCounter::DestOf(const TrackedFlow& f) {
  return {f.l4proto == 17 ? Proto::kUdp : Proto::kTcp, f.destination};
}

void FlowCounter::SetDeadline(Entry& e, std::uint32_t id, std::optional<std::uint32_t> timeout_s,
                              Clock::time_point now) {
  deadlines_.erase({e.deadline, id});
  // 0 s left is an answer (under a second), not a missing one.
  Clock::duration wait = kRecheck;
  if (timeout_s) {
    auto n = counts_.find(e.dest);
    bool last = n != counts_.end() && n->second == 1;
    wait = std::chrono::seconds(*timeout_s) +
           (last ? Clock::duration(kLastFlowSlack) : Clock::duration(kProbeSlack));
    e.flow.timeout_s = timeout_s;
    if (RetimeTo(e.flow)) wait = Clock::duration::zero();  // due now, to be re-timed
    if (e.retimed) wait = std::min<Clock::duration>(wait, kRecheck);
  }
  e.deadline = now + wait;
  deadlines_.insert({e.deadline, id});
}

void FlowCounter::Upsert(const TrackedFlow& f, Clock::time_point now) {
  auto [it, fresh] = flows_.try_emplace(f.id, Entry{f, DestOf(f), {}});
  if (fresh) {
    ++counts_[it->second.dest];
    changed_.insert(it->second.dest);
  } else {
    it->second.flow = f;
  }
  SetDeadline(it->second, f.id, f.timeout_s, now);
}

void FlowCounter::Remove(std::uint32_t id) {
  auto it = flows_.find(id);
  if (it == flows_.end()) return;
  Dest d = it->second.dest;
  deadlines_.erase({it->second.deadline, id});
  flows_.erase(it);
  if (--counts_[d] == 0) counts_.erase(d);
  changed_.insert(d);
}

void FlowCounter::OnEvent(const FlowEvent& e, Clock::time_point now) {
  if (e.type == FlowEventType::kDestroy) {
    Remove(e.flow.id);
  } else {
    // A NEW of a flow already counted (a snapshot raced its event) only
    // refreshes its deadline.
    Upsert(e.flow, now);
  }
}

void FlowCounter::Reset(const std::vector<TrackedFlow>& flows, Clock::time_point now) {
  for (const auto& [d, n] : counts_) changed_.insert(d);
  std::set<std::uint32_t> retimed;
  for (const auto& [id, e] : flows_) {
    if (e.retimed) retimed.insert(id);
  }
  flows_.clear();
  deadlines_.clear();
  counts_.clear();
  for (const auto& f : flows) {
    Upsert(f, now);
    if (retimed.count(f.id) != 0) {  // still probed every kRecheck
      Entry& e = flows_.at(f.id);
      e.retimed = true;
      SetDeadline(e, f.id, f.timeout_s, now);
    }
  }
}

std::optional<FlowCounter::Clock::time_point> FlowCounter::NextDeadline() const {
  if (deadlines_.empty()) return std::nullopt;
  return deadlines_.begin()->first;
}

std::vector<TrackedFlow> FlowCounter::Due(Clock::time_point now, std::size_t max) const {
  std::vector<TrackedFlow> out;
  for (auto it = deadlines_.begin(); it != deadlines_.end() && it->first <= now && out.size() < max;
       ++it) {
    out.push_back(flows_.at(it->second).flow);
  }
  return out;
}

void FlowCounter::Reschedule(std::uint32_t id, std::optional<std::uint32_t> timeout_s,
                             Clock::time_point now) {
  auto it = flows_.find(id);
  if (it != flows_.end()) SetDeadline(it->second, id, timeout_s, now);
}

void FlowCounter::SetFlowTimeout(std::uint32_t mark, std::optional<std::uint32_t> seconds) {
  if (seconds) {
    flow_timeouts_[mark & mark_mask_] = *seconds;
  } else {
    flow_timeouts_.erase(mark & mark_mask_);
  }
}

std::optional<std::uint32_t> FlowCounter::RetimeTo(const TrackedFlow& f) const {
  auto it = flow_timeouts_.find(f.mark & mark_mask_);
  if (it == flow_timeouts_.end() || !f.timeout_s || *f.timeout_s <= it->second) return std::nullopt;
  return it->second;
}

bool FlowCounter::Retimed(std::uint32_t id) {
  auto it = flows_.find(id);
  if (it == flows_.end()) return false;
  return !std::exchange(it->second.retimed, true);
}

std::vector<DestinationCount> FlowCounter::TakeChanges() {
  std::vector<DestinationCount> out;
  out.reserve(changed_.size());
  for (const Dest& d : changed_) {
    auto it = counts_.find(d);
    out.push_back({d.first, d.second, it == counts_.end() ? 0 : it->second});
  }
  changed_.clear();
  return out;
}

std::vector<DestinationCount> FlowCounter::All() const {
  std::vector<DestinationCount> out;
  out.reserve(counts_.size());
  for (const auto& [d, n] : counts_) out.push_back({d.first, d.second, n});
  return out;
}

}  // namespace netd
