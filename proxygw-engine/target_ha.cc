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
  if (promoting) {
    return Status::Unavailable("target " + cfg.name +
                               ": this node has just become the HA master and is probing whether "
                               "the backend runs; it decides once the probe answers");
  }
  return Status::Unavailable("target " + cfg.name +
                             ": this node is not the HA master; the master decides warms and "
                             "drains");
}

std::optional<Target::Impl::Probing> Target::Impl::HowToProbe() const {
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
  promoting = false;
}

// Ends the current run at once: no drain, no stop, the backend is the
// master's. Forwarding stays as it is until the first probe's verdict.
void Target::Impl::Follow() {
  if (following || state == TargetState::kClosed) return;
  following = true;
  ++cycle;
  if (probe) probe->Cancel();
  probe.reset();
  StopProbing();  // a promotion probe's answer no longer matters
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

// A live target becomes active without a warm, at once. A target last seen
// down is probed once more first, when it can be: the old master may have
// started its backend after this node's last probe (a kind's check runs only
// every check_interval), and warming it would start it a second time.
// Until that probe answers, warms and drains are refused (NotDeciding);
// then the backend is taken over if it runs, else the target stays inactive
// and warms on demand.
void Target::Impl::Lead() {
  if (!following || state == TargetState::kClosed) return;
  following = false;
  StopProbing();
  const bool was_live = live;
  live = false;
  ++cycle;
  if (was_live) {
    return TakeOverRunning("leading: the followed backend answers, active without a warm");
  }
  std::optional<Probing> how = HowToProbe();
  if (!how) {
    log.Info("leading: inactive, warmed on demand");
    forwarding.SwitchOff(Guard([](Impl&, Status) {}));
    return;
  }
  promoting = true;
  log.Info("leading: probing the backend once before deciding", {{"by", how->by}});
  follower = FollowProbe::Start(io, std::move(how->check), how->interval,
                                InCycle([](Impl& s, bool runs) { s.OnPromotionProbe(runs); }));
}

void Target::Impl::OnPromotionProbe(bool runs) {
  StopProbing();
  if (runs) {
    return TakeOverRunning(
        "leading: the backend answers the promotion probe, active without a warm");
  }
  log.Info("leading: the backend does not run; inactive, warmed on demand");
  forwarding.SwitchOff(Guard([](Impl&, Status) {}));
  // Inactive already: said again, so that the engine runs the warms its
  // frontends asked for while the probe ran.
  if (hooks.changed) hooks.changed(TargetState::kInactive);
}

// The backend runs, started by the former master: the handler takes it over
// (a drain stops it), and the target is active once its mappings are on (at
// once when they are already); its idle clock starts now.
void Target::Impl::TakeOverRunning(const char* why) {
  handler->TakeOver();
  log.Info(why);
  forwarding.SwitchOn(InCycle([](Impl& s, Status st) {
    if (!st.ok()) {
      s.Fail("netd would refuse the target's mappings", st);
      return s.WindDown(/*stop_backend=*/true, s.last_error);
    }
    s.last_error.clear();
    s.BecomeActive();
  }));
}

// Asked once per target at load; what Follow would probe with, if anything.
bool Target::Impl::Followable() const { return HowToProbe().has_value(); }

}  // namespace engine
