#include "proxygw-engine/target.h"

#include <boost/asio/io_context.hpp>

#include "proxygw-engine/target_impl.h"

namespace engine {

namespace asio = boost::asio;
using common::Status;
using ipc::netd::Mapping;
using ipc::netd::Proto;

const char* TargetStateName(TargetState s) {
  switch (s) {
    case TargetState::kInactive: return "inactive";
    case TargetState::kActive: return "active";
    case TargetState::kWarming: return "warming";
    case TargetState::kDraining: return "draining";
    case TargetState::kClosed: return "closed";
  }
  return "invalid";
}

Target::Impl::Impl(asio::io_context& i, const config::Target& c, std::vector<Mapping> m,
                   Dataplane& d, Logger l, Hooks h)
    : io(i),
      cfg(c),
      mappings(m),
      dp(d),
      log(std::move(l)),
      hooks(std::move(h)),
      forwarding(i, d, c.name, std::move(m),
                 [this](bool on, const Status& why) {
                   Fail(on ? "could not switch forwarding on, retrying"
                           : "could not switch forwarding off, retrying",
                        why);
                 }),
      idle(
          i, std::chrono::seconds(c.idle_timeout_s), [this] { return KnownFlows(); },
          [this] {
            if (!kept_warm_by.empty()) {
              log.Info("idle: no flows for idle_timeout, kept warm",
                       {{"idle_timeout", std::to_string(cfg.idle_timeout_s) + "s"},
                        {"by", kept_warm_by}});
              return;
            }
            log.Info("idle: no flows for idle_timeout, draining",
                     {{"idle_timeout", std::to_string(cfg.idle_timeout_s) + "s"}});
            (void)Drain("idle");
          }),
      counters(hooks.counters != nullptr ? hooks.counters : &own_counters) {}

// Queues a call of the handler's `op`.
void Target::Impl::Call(void (TargetHandler::*op)(Done), Done then) {
  calls.Push([this, op](Done d) { (handler.get()->*op)(std::move(d)); }, std::move(then));
}

void Target::Impl::Enter(TargetState s) {
  if (state == s) return;
  state = s;
  since = std::chrono::system_clock::now();
  log.Info("target state", {{"state", TargetStateName(s)}});
  if (hooks.changed) hooks.changed(s);
}

void Target::Impl::Fail(const std::string& what, const Status& st) {
  last_error = what + ": " + st.message();
  log.Warn(what, {{"error", st.message()}});
}

std::vector<common::AddrPort> Target::Impl::TcpAddresses() const {
  std::vector<common::AddrPort> out;
  for (const auto& e : cfg.endpoints) {
    if (e.protocol != config::Protocol::kTcp) continue;
    out.insert(out.end(), e.addresses.begin(), e.addresses.end());
  }
  return out;
}

std::uint32_t Target::Impl::CountFlows() const {
  std::uint32_t n = 0;
  for (const auto& e : cfg.endpoints) {
    auto proto = e.protocol == config::Protocol::kTcp ? Proto::kTcp : Proto::kUdp;
    for (const auto& a : e.addresses) n += dp.Flows(proto, a);
  }
  return n;
}

// The flows now, or nullopt while the dataplane's counts are not current.
std::optional<std::uint32_t> Target::Impl::KnownFlows() const {
  if (!dp.connected()) return std::nullopt;
  return CountFlows();
}

// --- warming: handler warm, readiness, forwarding on ---
Status Target::Impl::Warm() {
  if (state == TargetState::kClosed) {
    return Status::Unavailable("target " + cfg.name + " is closed");
  }
  if (following || promoting) return NotDeciding();
  if (state == TargetState::kDraining) {
    return Status::Unavailable("target " + cfg.name +
                               " is draining; warm it again once it is inactive");
  }
  if (state != TargetState::kInactive) return Status::Ok();
  last_error.clear();
  ++cycle;
  ++counters->warms;
  warm_started = std::chrono::steady_clock::now();
  Enter(TargetState::kWarming);
  Call(&TargetHandler::Warm, InCycle([](Impl& s, Status st) {
    if (!st.ok()) {
      ++s.counters->warm_failures;
      s.Fail("warm failed", st);
      return s.WindDown(/*stop_backend=*/false, s.last_error);
    }
    s.WaitReady();
  }));
  return Status::Ok();
}

void Target::Impl::WaitReady() {
  probe = ReadinessProbe::Start(io, TcpAddresses(), std::chrono::seconds(cfg.ready_timeout_s),
                                InCycle([](Impl& s, Status st) {
                                  s.probe.reset();
                                  if (!st.ok()) {
                                    ++s.counters->warm_failures;
                                    s.Fail("not ready in time", st);
                                    return s.WindDown(/*stop_backend=*/true, s.last_error);
                                  }
                                  s.SwitchOn();
                                }));
}

void Target::Impl::SwitchOn() {
  forwarding.SwitchOn(InCycle([](Impl& s, Status st) {
    if (!st.ok()) {
      ++s.counters->warm_failures;
      s.Fail("netd would refuse the target's mappings", st);
      return s.WindDown(/*stop_backend=*/true, s.last_error);
    }
    s.last_error.clear();
    s.counters->cold_start.Observe(
        std::chrono::duration<double>(std::chrono::steady_clock::now() - s.warm_started).count());
    s.BecomeActive();
  }));
}

void Target::Impl::BecomeActive() {
  Enter(TargetState::kActive);
  flows = KnownFlows().value_or(flows);
  idle.Start();
}

// Ends the current run: forwarding off (retried until it is), then, with
// `stop_backend`, the handler stops the backend; then inactive. `failure`
// (empty for a drain) is the last_error it ends with, and makes it a
// failure the frontends hear of. Draining meanwhile, unless there is
// nothing to wait for.
void Target::Impl::WindDown(bool stop_backend, std::string failure) {
  ++cycle;
  if (probe) probe->Cancel();
  probe.reset();
  idle.Stop();
  if (stop_backend || !forwarding.off()) Enter(TargetState::kDraining);
  forwarding.SwitchOff(InCycle([stop_backend, failure](Impl& s, Status) {
    s.last_error = failure;  // no longer "could not switch forwarding off"
    if (!stop_backend) return s.Stopped(failure);
    s.Call(&TargetHandler::Drain, s.InCycle([failure](Impl& t, Status st) {
      if (!st.ok()) {
        t.log.Warn("backend did not stop cleanly", {{"error", st.message()}});
        if (failure.empty()) t.last_error = "backend did not stop cleanly: " + st.message();
      }
      t.Stopped(failure);
    }));
  }));
}

void Target::Impl::Stopped(const std::string& failure) {
  flows = KnownFlows().value_or(0);
  Enter(TargetState::kInactive);
  if (!failure.empty() && hooks.failed) hooks.failed();
}

Status Target::Impl::Drain(const std::string& why) {
  if (state == TargetState::kClosed) {
    return Status::Unavailable("target " + cfg.name + " is closed");
  }
  if (following || promoting) return NotDeciding();
  if (state != TargetState::kActive && state != TargetState::kWarming) return Status::Ok();
  last_error.clear();
  ++counters->drains;
  log.Info("draining", {{"reason", why}, {"from", TargetStateName(state)}});
  WindDown(/*stop_backend=*/true, "");
  return Status::Ok();
}

void Target::Impl::OnBackendExited(const std::string& why) {
  // Draining: expected; inactive: a leftover stopped at start; closed: done.
  if (state != TargetState::kWarming && state != TargetState::kActive) return;
  ++counters->backend_exits;
  last_error = "backend exited: " + why;
  log.Warn("backend exited on its own", {{"reason", why}});
  WindDown(/*stop_backend=*/false, last_error);
}

void Target::Impl::OnForwardingRefused(const Status& why) {
  forwarding.Dropped();
  if (state != TargetState::kWarming && state != TargetState::kActive) return;
  if (state == TargetState::kWarming) ++counters->warm_failures;
  Fail("netd would refuse the target's mappings", why);
  WindDown(/*stop_backend=*/true, last_error);
}

void Target::Impl::SetMappings(std::vector<Mapping> m) {
  mappings = m;
  // A remap that failed first is retried (its error in last_error); once
  // through, an active target has no error left.
  forwarding.Remap(std::move(m), Guard([](Impl& s, Status) {
                     if (s.state == TargetState::kActive) s.last_error.clear();
                   }));
}

// --- flows ---
void Target::Impl::OnCountsChanged() {
  // While the counts are not current, the last known count stands.
  std::optional<std::uint32_t> n = KnownFlows();
  if (!n) return;
  flows = *n;
  if (state == TargetState::kActive) idle.OnFlows(*n);
}

void Target::Impl::OnConnectionChanged(bool connected) {
  if (connected) forwarding.OnReconnected();
  OnCountsChanged();
}

// --- adopting, closing ---
void Target::Impl::AdoptAtStart(bool was_active) {
  bool running = handler->Adopt();
  if (was_active && running) {
    dp.Preset(cfg.name, mappings);
    forwarding.AssumeOn();
    log.Info("adopted as active after an engine restart");
    ++cycle;
    BecomeActive();
  } else if (was_active) {
    log.Info("was active before the engine restarted, but its backend is gone; starting cold");
    if (hooks.changed) hooks.changed(TargetState::kInactive);
  } else {
    // A backend left by an interrupted warm or drain. Through the call
    // queue: a warm asked for meanwhile starts once it has stopped, and so
    // cannot pass readiness against the dying process.
    Call(&TargetHandler::Drain, [](Status) {});
  }
}

// Closed at once; forwarding off (one attempt: the engine is exiting, and
// netd removes its whole table next); then the handler closes, after any
// call of it in flight.
void Target::Impl::Close(Done done) {
  if (state == TargetState::kClosed) return done(Status::Ok());
  ++cycle;
  if (probe) probe->Cancel();
  probe.reset();
  StopProbing();
  idle.Stop();
  Enter(TargetState::kClosed);
  forwarding.SwitchOff(Guard([done = std::move(done)](Impl& s, Status st) mutable {
                         if (!st.ok()) {
                           s.log.Warn("could not switch forwarding off at shutdown, ignoring",
                                      {{"error", st.message()}});
                         }
                         s.Call(&TargetHandler::Close,
                                s.Guard([done = std::move(done)](Impl& t, Status cst) {
                                  if (!cst.ok()) t.Fail("close failed", cst);
                                  done(Status::Ok());
                                }));
                       }),
                       /*once=*/true);
}

Target::Target(asio::io_context& io, const config::Target& cfg, std::vector<Mapping> mappings,
               Dataplane& dataplane, Logger log, Hooks hooks)
    : impl_(std::make_shared<Impl>(io, cfg, std::move(mappings), dataplane, std::move(log),
                                   std::move(hooks))) {}

Target::~Target() = default;

void Target::KeepWarm(const std::string& by) {
  const bool released = by.empty() && !impl_->kept_warm_by.empty();
  impl_->kept_warm_by = by;
  // Its idle time may have run out while it was kept warm: it counts anew.
  if (released && impl_->state == TargetState::kActive) impl_->idle.Start();
}
const std::string& Target::kept_warm_by() const { return impl_->kept_warm_by; }

void Target::SetHandler(std::unique_ptr<TargetHandler> handler) {
  impl_->handler = std::move(handler);
}
const std::string& Target::name() const { return impl_->cfg.name; }
TargetState Target::state() const { return impl_->state; }
const std::string& Target::last_error() const { return impl_->last_error; }
std::chrono::system_clock::time_point Target::since() const { return impl_->since; }
std::uint32_t Target::flows() const { return impl_->flows; }
const std::vector<Mapping>& Target::mappings() const { return impl_->mappings; }
const TargetCounters& Target::counters() const { return *impl_->counters; }

Status Target::Warm() { return impl_->Warm(); }
Status Target::Drain(const std::string& why) { return impl_->Drain(why); }
void Target::SetMappings(std::vector<Mapping> mappings) {
  impl_->SetMappings(std::move(mappings));
}
void Target::AdoptAtStart(bool was_active) { impl_->AdoptAtStart(was_active); }
void Target::OnCountsChanged() { impl_->OnCountsChanged(); }
void Target::OnConnectionChanged(bool connected) { impl_->OnConnectionChanged(connected); }
void Target::OnForwardingRefused(const Status& why) { impl_->OnForwardingRefused(why); }
void Target::OnBackendExited(const std::string& why) { impl_->OnBackendExited(why); }
void Target::Close(Done done) { impl_->Close(std::move(done)); }
void Target::Follow() { impl_->Follow(); }
void Target::Lead() { impl_->Lead(); }
bool Target::following() const { return impl_->following; }
bool Target::live() const { return impl_->live; }
bool Target::promoting() const { return impl_->promoting; }
bool Target::followable() const { return impl_->Followable(); }

}  // namespace engine
