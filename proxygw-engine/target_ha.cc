// A target on an HA node (docs/ha.md): following while the node is backup or
// in fault, leading once it is master. Part of Target (target_impl.h).
#include "proxygw-engine/target_impl.h"

namespace engine {

using common::Status;

// How often a follower probes a target's TCP endpoints, and how long one
// probe may take. A kind's own check runs as often as the kind says
// (static:exec: its check_interval, 30s by default): it may cost more than a
// connect (a cloud API call), and the master already runs it that often.
constexpr std::chrono::seconds kFollowInterval{2};

Status Target::Impl::NotDeciding() const {
  return Status::Unavailable("target " + cfg.name +
                             ": this node is not the HA master; the master decides warms and "
                             "drains");
}

std::optional<Target::Impl::Probing> Target::Impl::HowToProbe() {
  if (std::vector<common::AddrPort> addrs = TcpAddresses(); !addrs.empty()) {
    return Probing{FollowProbe::TcpEndpoints(io, std::move(addrs), kFollowInterval),
                   kFollowInterval, "tcp endpoints"};
  }
  if (std::optional<std::chrono::seconds> every = handler->RunningCheckInterval()) {
    return Probing{FollowProbe::KindCheck(*handler), *every, "the kind's check"};
  }
  return std::nullopt;
}

void Target::Impl::StopProbing() {
  if (follower) follower->Stop();
  follower.reset();
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
  std::optional<Probing> how = HowToProbe();
  if (!how) {
    log.Info(
        "following: cannot tell whether the backend runs (no TCP endpoint, and its kind has no "
        "check), forwarding off; warmed on demand once master");
    forwarding.SwitchOff(Guard([](Impl&, Status) {}));
    return;
  }
  log.Info("following: probing the backend",
           {{"by", how->by}, {"every", std::to_string(how->interval.count()) + "s"}});
  follower = FollowProbe::Start(io, std::move(how->check), how->interval,
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
  StopProbing();
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
