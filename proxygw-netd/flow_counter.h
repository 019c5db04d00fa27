// FlowCounter: active DNATed flows per destination, from the flow events and
// snapshots FlowTracker delivers. A set of conntrack ids, not a counter, so
// that a flow seen twice (in a snapshot and as a NEW event) counts once and a
// DESTROY of an unknown flow is ignored.
//
// It also schedules when each flow should be looked at again: just after its
// conntrack timeout would run out, as of the last event or probe. The kernel
// reaps expired entries lazily, so netd probes a flow when its deadline
// passes (FlowTracker::Probe) instead of waiting for the garbage collector.
// No deadline is later than the time left the kernel last reported plus
// kProbeSlack, or kRecheck when it reported none: a flow whose DESTROY event
// is lost, or comes late, stops counting within that bound anyway.
//
// Re-timing: a flow reported with more time left than its mapping's
// flow_timeout is not under netd's timeout policy. conntrackd committed it on
// this node after an HA failover (docs/ha.md), or its mapping's flow_timeout
// was lowered after it began; either way the kernel refreshes it to its own
// default (5 days for an established TCP connection) at every packet, and the
// policy cannot be attached to a confirmed entry. Such a flow is due at once,
// for the caller to set its time left to the flow_timeout (RetimeTo,
// FlowTracker::Retime, Retimed), and is then probed at least every kRecheck
// while it lives: a packet since the last probe shows as more time left than
// the flow_timeout, and the flow is re-timed again. Its end is so seen within
// flow_timeout + kRecheck of its last packet.
// Pure logic, given the time; runs in proxygw-netd.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <unordered_map>
#include <vector>

#include "common/ipc/netd_protocol.h"
#include "proxygw-netd/flow_tracker.h"

namespace netd {

class FlowCounter {
 public:
  using Clock = std::chrono::steady_clock;

  // `mark_mask`: the bits of a flow's ct mark that name its mapping.
  explicit FlowCounter(std::uint32_t mark_mask = ~0u) : mark_mask_(mark_mask) {}

  // A probe comes this long after the time left the kernel reported. The
  // kernel rounds it down to whole seconds, so a flow reported with 0 s left
  // has under a second, and is gone, or was refreshed, one kProbeSlack later.
  static constexpr std::chrono::seconds kProbeSlack{1};
  // The only flow of its destination (when its deadline is set) decides when
  // the destination's count reaches 0, so it is probed this long after its
  // time left, and this often in its last second: its end is seen within
  // this much, at up to seven probes for that one flow.
  static constexpr std::chrono::milliseconds kLastFlowSlack{150};
  // When the kernel reported no time left, or the probe failed: soon, so
  // that a flow's end is not missed for long, yet not at every turn of the
  // loop while a failure lasts.
  static constexpr std::chrono::seconds kRecheck{5};

  void OnEvent(const FlowEvent& e, Clock::time_point now);
  // Replaces everything with a fresh snapshot; every destination becomes
  // "changed".
  void Reset(const std::vector<TrackedFlow>& flows, Clock::time_point now);

  // The earliest probe deadline, if any flow is tracked.
  std::optional<Clock::time_point> NextDeadline() const;
  // Flows whose deadline has passed, at most `max`, earliest first. Each must
  // then be Rescheduled or Removed.
  std::vector<TrackedFlow> Due(Clock::time_point now, std::size_t max) const;
  // `timeout_s`: the time left the probe reported at `now`; nullopt if none
  // (or the probe failed).
  void Reschedule(std::uint32_t id, std::optional<std::uint32_t> timeout_s, Clock::time_point now);
  void Remove(std::uint32_t id);

  // The flow_timeout of the installed mapping whose flows carry `mark`
  // (inside the mask); nullopt when none is installed, and such flows are
  // not re-timed.
  void SetFlowTimeout(std::uint32_t mark, std::optional<std::uint32_t> seconds);
  void ClearFlowTimeouts() { flow_timeouts_.clear(); }
  // The time left `f` must be cut to: its mapping's flow_timeout, when `f`
  // reports more than that.
  std::optional<std::uint32_t> RetimeTo(const TrackedFlow& f) const;
  // Records that flow `id` was re-timed: it is probed at least every
  // kRecheck from now on. True the first time for that flow.
  bool Retimed(std::uint32_t id);

  // Destinations whose count changed since the last call (0 included), and
  // forgets them as changed.
  std::vector<ipc::netd::DestinationCount> TakeChanges();
  // Every destination with a non-zero count.
  std::vector<ipc::netd::DestinationCount> All() const;
  bool has_changes() const { return !changed_.empty(); }
  std::size_t flows() const { return flows_.size(); }

 private:
  using Dest = std::pair<ipc::netd::Proto, common::AddrPort>;
  struct Entry {
    TrackedFlow flow;
    Dest dest;
    Clock::time_point deadline;
    bool retimed = false;
  };
  static Dest DestOf(const TrackedFlow& f);
  void Upsert(const TrackedFlow& f, Clock::time_point now);
  void SetDeadline(Entry& e, std::uint32_t id, std::optional<std::uint32_t> timeout_s,
                   Clock::time_point now);

  std::unordered_map<std::uint32_t, Entry> flows_;  // conntrack id -> flow
  std::set<std::pair<Clock::time_point, std::uint32_t>> deadlines_;
  std::map<Dest, std::uint32_t> counts_;
  std::set<Dest> changed_;
  std::uint32_t mark_mask_;
  std::unordered_map<std::uint32_t, std::uint32_t> flow_timeouts_;  // mark -> seconds
};

}  // namespace netd
