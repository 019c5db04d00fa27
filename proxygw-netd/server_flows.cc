// Server::Impl's flow counts: conntrack events read in batches, probes of
// the flows whose timeout should have run out, snapshots after an overrun,
// and the counts pushed to a subscribed engine. See server_impl.h; runs
// inside proxygw-netd only.
#include <sys/epoll.h>

#include <algorithm>
#include <chrono>
#include <string>

#include "proxygw-netd/log.h"
#include "proxygw-netd/server_impl.h"

namespace netd {
namespace {

using common::Status;
using namespace ipc::netd;

// Conntrack events are read in batches: after a read the event socket rests
// this long, and what arrived meanwhile is read at once. A burst of short
// connections (several events each) then costs netd and the engine a wake-up
// per batch, not per event; counts reach the engine at most this much later.
constexpr auto kEventBatch = std::chrono::milliseconds(25);

}  // namespace

// --- Flow counts -------------------------------------------------------------------

void Server::Impl::Resnapshot(const char* why) {
  auto flows = tracker.Snapshot();
  if (!flows.ok()) {
    Log(LogLevel::kError, "conntrack snapshot failed", Fields({{"error", flows.status().message()}}));
    return;
  }
  counter.Reset(*flows, FlowCounter::Clock::now());
  Log(LogLevel::kInfo, "flow counts resynchronised",
      Fields({{"reason", why}, {"flows", std::to_string(counter.flows())}}));
  if (session && session->subscribed) session->push_resync = true;
}

void Server::Impl::ReadFlows() {
  auto now = FlowCounter::Clock::now();
  auto r = tracker.ReadEvents([&](const FlowEvent& e) { counter.OnEvent(e, now); });
  if (!r.ok()) {
    Log(LogLevel::kWarn, "conntrack events failed", Fields({{"error", r.status().message()}}));
    Resnapshot("event error");
  } else if (*r == FlowTracker::ReadResult::kOverrun) {
    Resnapshot("event overrun");
  }
}

// Looks at the flows whose conntrack timeout should have run out: a live
// one gets a new deadline, a gone one stops counting, a failed probe is
// retried soon. A live one with more time left than its mapping's
// flow_timeout is re-timed first (FlowCounter). Bounded per round so that
// requests are not starved; the rest are due at the next round. One log line
// per round, however many failed, and one for flows re-timed the first time.
void Server::Impl::ProbeDue() {
  constexpr std::size_t kMaxProbesPerRound = 512;
  std::size_t failed = 0, retimed = 0;
  Status error;
  for (const TrackedFlow& f : counter.Due(FlowCounter::Clock::now(), kMaxProbesPerRound)) {
    auto r = tracker.Probe(f);
    std::optional<std::uint32_t> left;
    if (r.ok() && *r) {
      left = (*r)->timeout_s;
      if (auto to = counter.RetimeTo(**r)) {
        if (Status st = tracker.Retime(**r, *to); st.ok()) {
          left = to;
          retimed += counter.Retimed(f.id) ? 1 : 0;
        } else {
          r = st;  // retried soon, as a failed probe
        }
      }
    }
    // The time left counts from the answer, not from the start of the round,
    // which can be well before it on a loaded machine.
    auto answered = FlowCounter::Clock::now();
    if (!r.ok()) {
      if (failed++ == 0) error = r.status();
      counter.Reschedule(f.id, std::nullopt, answered);
    } else if (*r) {
      counter.Reschedule(f.id, left, answered);
    } else {
      counter.Remove(f.id);
    }
  }
  if (failed > 0) {
    Log(LogLevel::kWarn, "conntrack probes failed, retrying",
        Fields({{"failed", std::to_string(failed)}, {"error", error.message()}}));
  }
  if (retimed > 0) {
    Log(LogLevel::kInfo, "flows re-timed to their mapping's flow_timeout",
        Fields({{"flows", std::to_string(retimed)}}));
  }
}

void Server::Impl::PauseEvents() {
  if (Status st = Watch(tracker.event_fd(), 0, /*modify=*/true); !st.ok()) {
    return;  // stays watched: every event is read at once, as before batching
  }
  events_resume = FlowCounter::Clock::now() + kEventBatch;
}

void Server::Impl::ResumeEventsIfDue() {
  if (!events_resume || FlowCounter::Clock::now() < *events_resume) return;
  if (Status st = Watch(tracker.event_fd(), EPOLLIN, /*modify=*/true); !st.ok()) {
    Log(LogLevel::kWarn, "cannot watch the conntrack event socket again",
        Fields({{"error", st.message()}}));
    return;  // retried at the next turn of the loop
  }
  events_resume.reset();
}

// How long the loop may sleep: until the next probe deadline, the end of an
// event batch or a held packet's hold time, or forever.
int Server::Impl::WaitMs() const {
  auto next = counter.NextDeadline();
  for (auto at : {events_resume, NextHeldDeadline()}) {
    if (at && (!next || *at < *next)) next = at;
  }
  if (!next) return -1;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*next -
                                                                  FlowCounter::Clock::now())
                .count();
  return ms <= 0 ? 0 : static_cast<int>(std::min<long long>(ms + 1, 3600 * 1000));
}

// Sends `counts` in as many pushes as it takes (at least one), the first
// with `reset`.
void Server::Impl::Push(Session& s, const std::vector<DestinationCount>& counts, bool reset) {
  std::size_t i = 0;
  do {
    FlowCountsPush p;
    p.reset = reset && i == 0;
    for (; i < counts.size() && p.counts.size() < kMaxItemsPerMessage; ++i) {
      p.counts.push_back(counts[i]);
    }
    Send(s, {0, std::move(p)});
    if (!session) return;
  } while (i < counts.size());
}

// Sends every non-zero count, reset first.
void Server::Impl::PushAll(Session& s) {
  auto all = counter.All();
  counter.TakeChanges();
  s.push_resync = false;
  Push(s, all, /*reset=*/true);
}

void Server::Impl::PushCounts() {
  if (!session || !session->subscribed) {
    counter.TakeChanges();
    return;
  }
  Session& s = *session;
  if (!s.out.empty()) {
    // The engine is behind: do not queue more; send a full snapshot once it
    // has caught up.
    if (counter.has_changes()) s.push_resync = true;
    counter.TakeChanges();
    return;
  }
  if (s.push_resync) {
    PushAll(s);
    return;
  }
  if (counter.has_changes()) Push(s, counter.TakeChanges(), /*reset=*/false);
}

}  // namespace netd
