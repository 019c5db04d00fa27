// A target on an HA node (docs/ha.md): following while the node is backup or
// in fault, leading once it is master. Part of Target (target_impl.h).
#include "proxygw-engine/target_impl.h"

namespace engine {

using common::Status;

// How often a follower probes a target's endpoints (docs/ha.md).
constexpr std::chrono::seconds kFollowInterval{2};

Status Target::Impl::NotDeciding() const {
  return Status::Unavailable("target " + cfg.name +
                             ": this node is not the HA master; the master decides warms and "
                             "drains");
}

// Ends the current run at once: no drain, no stop, the backend is the
// master's. Forwarding stays as it is until the first probe's verdict.
void Target::Impl::Follow() {
  if (following || state == TargetState::kClosed) return;
  following = true;
  ++cycle;
  if (probe) probe->Cancel();
  probe.reset();
  idle.Stop();
  handler->Release();
  live = false;
  Enter(TargetState::kInactive);
  std::vector<common::AddrPort> addrs = TcpAddresses();
  if (addrs.empty()) {
    log.Info("following: no TCP endpoint to probe, forwarding off; warmed on demand once master");
    forwarding.SwitchOff(Guard([](Impl&, Status) {}));
    return;
  }
  follower = FollowProbe::Start(io, std::move(addrs), kFollowInterval,
                                Guard([](Impl& s, bool answers) { s.OnFollowed(answers); }));
}

void Target::Impl::OnFollowed(bool answers) {
  if (!following) return;
  live = answers;
  if (answers) {
    log.Info("following: the backend answers, forwarding on");
    forwarding.SwitchOn(Guard([](Impl& s, Status st) {
      if (!st.ok() && s.following) {
        s.live = false;
        s.Fail("netd would refuse the target's mappings", st);
      }
    }));
  } else {
    log.Info("following: the backend does not answer, forwarding off");
    forwarding.SwitchOff(Guard([](Impl&, Status) {}));
  }
}

// A live target becomes active without a warm: the handler takes the
// running backend over, and the idle clock starts now.
void Target::Impl::Lead() {
  if (!following || state == TargetState::kClosed) return;
  following = false;
  if (follower) follower->Stop();
  follower.reset();
  const bool was_live = live;
  live = false;
  ++cycle;
  if (!was_live) {
    log.Info("leading: inactive, warmed on demand");
    forwarding.SwitchOff(Guard([](Impl&, Status) {}));
    return;
  }
  handler->TakeOver();
  log.Info("leading: the followed backend answers, active without a warm");
  // On already: done at once, unless an enable is still in flight.
  forwarding.SwitchOn(InCycle([](Impl& s, Status st) {
    if (!st.ok()) {
      s.Fail("netd would refuse the target's mappings", st);
      return s.WindDown(/*stop_backend=*/true, s.last_error);
    }
    s.last_error.clear();
    s.BecomeActive();
  }));
}

}  // namespace engine
