#include "proxygw-engine/target.h"

#include <algorithm>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

#include "proxygw-engine/readiness.h"

namespace engine {

namespace asio = boost::asio;
using common::Status;
using ipc::netd::Mapping;
using ipc::netd::MappingKey;
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

namespace {
constexpr auto kEnableRetryMax = std::chrono::seconds(30);
constexpr auto kRetryWhenBlind = std::chrono::seconds(5);
}  // namespace

struct Target::Impl : std::enable_shared_from_this<Impl> {
  asio::io_context& io;
  const config::Target& cfg;
  std::vector<Mapping> mappings;
  Dataplane& dp;
  Logger log;
  Hooks hooks;
  std::unique_ptr<TargetHandler> handler;

  TargetState state = TargetState::kInactive;
  std::string last_error;
  std::chrono::system_clock::time_point since = std::chrono::system_clock::now();
  std::uint32_t flows = 0;

  asio::steady_timer idle;
  bool idle_armed = false;
  asio::steady_timer retry;
  std::chrono::seconds enable_backoff{1};
  bool enable_waiting = false;  // an enable failed; the retry timer is set
  std::shared_ptr<ReadinessProbe> probe;
  bool handler_busy = false;           // a Warm/Drain of the handler is in flight
  std::function<void()> after_handler;  // runs when it completes (Close waits)
  bool closing = false;
  TargetState pre_close = TargetState::kInactive;  // the state Close interrupted
  Done close_done;

  Impl(asio::io_context& i, const config::Target& c, std::vector<Mapping> m, Dataplane& d,
       Logger l, Hooks h)
      : io(i), cfg(c), mappings(std::move(m)), dp(d), log(std::move(l)), hooks(std::move(h)),
        idle(i), retry(i) {}

  template <class F>
  auto Guard(F f) {
    return [w = weak_from_this(), f = std::move(f)](auto&&... args) mutable {
      if (auto s = w.lock()) f(*s, std::forward<decltype(args)>(args)...);
    };
  }

  void Enter(TargetState s) {
    if (state == s) return;
    state = s;
    since = std::chrono::system_clock::now();
    log.Info("target state", {{"state", TargetStateName(s)}});
    if (hooks.changed) hooks.changed(s);
  }

  void Fail(const std::string& what, const Status& st) {
    last_error = what + ": " + st.message();
    log.Warn(what, {{"error", st.message()}});
  }

  std::vector<common::AddrPort> TcpAddresses() const {
    std::vector<common::AddrPort> out;
    for (const auto& e : cfg.endpoints) {
      if (e.protocol != config::Protocol::kTcp) continue;
      out.insert(out.end(), e.addresses.begin(), e.addresses.end());
    }
    return out;
  }

  std::vector<MappingKey> Keys() const {
    std::vector<MappingKey> keys;
    for (const auto& m : mappings) keys.push_back(m.key);
    return keys;
  }

  // Handler calls are serialised: at most one in flight.
  void CallHandler(void (TargetHandler::*op)(Done), std::function<void(Impl&, Status)> next) {
    handler_busy = true;
    (handler.get()->*op)(Guard([next = std::move(next)](Impl& s, Status st) {
      s.handler_busy = false;
      if (s.after_handler) {
        auto cont = std::move(s.after_handler);
        s.after_handler = nullptr;
        cont();
        return;
      }
      next(s, std::move(st));
    }));
  }

  // --- warming ---
  Status Warm() {
    if (closing || state == TargetState::kClosed) {
      return Status::Unavailable("target " + cfg.name + " is closed");
    }
    if (state == TargetState::kDraining) {
      return Status::Unavailable("target " + cfg.name + " is draining; warm it again once it is inactive");
    }
    if (state != TargetState::kInactive) return Status::Ok();
    last_error.clear();
    enable_backoff = std::chrono::seconds(1);
    Enter(TargetState::kWarming);
    CallHandler(&TargetHandler::Warm, [](Impl& s, Status st) {
      if (s.state != TargetState::kWarming) return;
      if (!st.ok()) {
        s.Fail("warm failed", st);
        s.Enter(TargetState::kInactive);
        if (s.hooks.failed) s.hooks.failed();
        return;
      }
      s.WaitReady();
    });
    return Status::Ok();
  }

  void WaitReady() {
    auto addrs = TcpAddresses();
    probe = ReadinessProbe::Start(io, addrs, std::chrono::seconds(cfg.ready_timeout_s),
                                  Guard([](Impl& s, Status st) {
                                    s.probe.reset();
                                    if (s.state != TargetState::kWarming || s.closing) return;
                                    if (!st.ok()) return s.NotReady(st);
                                    s.EnableMappings();
                                  }));
  }

  void NotReady(const Status& st) {
    Fail("not ready in time", st);
    // Stop what was started, then report the failure.
    CallHandler(&TargetHandler::Drain, [](Impl& s, Status) {
      if (s.state != TargetState::kWarming) return;
      s.Enter(TargetState::kInactive);
      if (s.hooks.failed) s.hooks.failed();
    });
  }

  void EnableMappings() {
    dp.Enable(cfg.name, mappings, Guard([](Impl& s, Status st) {
      if (s.state != TargetState::kWarming || s.closing) return;
      if (!st.ok()) {
        s.Fail("could not switch forwarding on, retrying", st);
        s.enable_waiting = true;
        s.retry.expires_after(s.enable_backoff);
        s.enable_backoff = std::min(s.enable_backoff * 2, kEnableRetryMax);
        s.retry.async_wait(s.Guard([](Impl& t, const boost::system::error_code& ec) {
          if (ec || !t.enable_waiting) return;
          t.enable_waiting = false;
          if (t.state == TargetState::kWarming && !t.closing) t.EnableMappings();
        }));
        return;
      }
      s.last_error.clear();
      s.BecomeActive();
    }));
  }

  void BecomeActive() {
    Enter(TargetState::kActive);
    flows = CountFlows();
    idle_armed = false;
    ArmIdle();  // the idle clock starts now
  }

  // --- idle ---
  std::uint32_t CountFlows() const {
    std::uint32_t n = 0;
    for (const auto& e : cfg.endpoints) {
      auto proto = e.protocol == config::Protocol::kTcp ? Proto::kTcp : Proto::kUdp;
      for (const auto& a : e.addresses) n += dp.Flows(proto, a);
    }
    return n;
  }

  void ArmIdle(std::chrono::seconds after = std::chrono::seconds(0)) {
    if (idle_armed && after.count() == 0) return;
    idle_armed = true;
    idle.expires_after(after.count() ? after : std::chrono::seconds(cfg.idle_timeout_s));
    idle.async_wait(Guard([](Impl& s, const boost::system::error_code& ec) {
      if (ec) return;
      s.idle_armed = false;
      if (s.state != TargetState::kActive || s.closing) return;
      s.flows = s.CountFlows();
      if (s.flows > 0) return;
      if (!s.dp.connected()) {
        // Flow counts are unknown while netd is unreachable: do not drain blind.
        s.ArmIdle(kRetryWhenBlind);
        return;
      }
      s.log.Info("idle: no flows for idle_timeout, draining",
                 {{"idle_timeout", std::to_string(s.cfg.idle_timeout_s) + "s"}});
      (void)s.Drain("idle");
    }));
  }

  void DisarmIdle() {
    idle_armed = false;
    idle.cancel();
  }

  void OnCountsChanged() {
    if (enable_waiting && dp.connected() && state == TargetState::kWarming && !closing) {
      // netd is back: retry the enable now rather than at the next back-off.
      enable_waiting = false;
      retry.cancel();
      EnableMappings();
    }
    std::uint32_t n = CountFlows();
    bool was = flows > 0;
    flows = n;
    if (state != TargetState::kActive) return;
    if (n > 0) {
      if (idle_armed) DisarmIdle();
    } else if (was || !idle_armed) {
      DisarmIdle();
      ArmIdle();  // dropped to zero: the clock starts again
    }
  }

  // --- draining ---
  Status Drain(const std::string& why) {
    if (closing || state == TargetState::kClosed) {
      return Status::Unavailable("target " + cfg.name + " is closed");
    }
    if (state == TargetState::kWarming) {
      return Status::Unavailable("target " + cfg.name + " is warming; drain it once it is active");
    }
    if (state != TargetState::kActive) return Status::Ok();
    last_error.clear();
    log.Info("draining", {{"reason", why}});
    StartDrain([](Impl& s, const Status& st) {
      if (!st.ok()) {
        s.Fail("drain failed", st);
      }
    });
    return Status::Ok();
  }

  // Mappings off, flows flushed, backend stopped, inactive. If the mappings
  // cannot go off, back to active (still forwarding) and a retry later.
  void StartDrain(std::function<void(Impl&, const Status&)> then) {
    DisarmIdle();
    Enter(TargetState::kDraining);
    dp.Disable(cfg.name, Guard([then](Impl& s, Status st) {
      if (s.closing) return;  // Close takes over
      if (!st.ok()) {
        s.Fail("could not switch forwarding off; still active, will retry", st);
        s.Enter(TargetState::kActive);
        if (!s.closing) s.ArmIdle(kRetryWhenBlind);
        then(s, Status::Ok());
        return;
      }
      s.dp.Flush(s.Keys(), s.Guard([then](Impl& t, Status fst) {
        if (t.closing) return;
        if (!fst.ok()) t.log.Warn("could not flush the target's flows, ignoring", {{"error", fst.message()}});
        t.StopBackend(then);
      }));
    }));
  }

  void StopBackend(std::function<void(Impl&, const Status&)> then) {
    CallHandler(&TargetHandler::Drain, [then](Impl& s, Status st) {
      if (!st.ok()) s.Fail("backend did not stop cleanly", st);
      s.flows = s.CountFlows();
      s.Enter(TargetState::kInactive);
      then(s, st);
    });
  }

  void OnBackendExited(const std::string& why) {
    if (closing) return;
    if (state == TargetState::kDraining) return;  // expected
    last_error = "backend exited: " + why;
    log.Warn("backend exited on its own", {{"reason", why}});
    if (state == TargetState::kWarming) {
      if (probe) probe->Cancel();
      probe.reset();
      retry.cancel();
      Enter(TargetState::kInactive);
      if (hooks.failed) hooks.failed();
      return;
    }
    if (state != TargetState::kActive) return;
    DisarmIdle();
    Enter(TargetState::kDraining);
    std::string err = last_error;
    dp.Disable(cfg.name, Guard([err](Impl& s, Status st) {
      if (s.closing) return;
      if (!st.ok()) s.log.Warn("could not switch forwarding off", {{"error", st.message()}});
      s.dp.Flush(s.Keys(), s.Guard([err](Impl& t, Status) {
        if (t.closing) return;
        t.Enter(TargetState::kInactive);
        t.last_error = err;
        if (t.hooks.failed) t.hooks.failed();
      }));
    }));
  }

  // --- closing ---
  void Close(Done done) {
    if (closing) return done(Status::Ok());
    closing = true;
    close_done = std::move(done);
    // Closed at once, as in the original; what it was doing winds down below.
    pre_close = state;
    Enter(TargetState::kClosed);
    if (probe) probe->Cancel();
    probe.reset();
    retry.cancel();
    DisarmIdle();
    auto proceed = [w = weak_from_this()] {
      if (auto s = w.lock()) s->CloseNow();
    };
    // A handler call in flight finishes first; a drain between dataplane
    // steps stops at its next step (they check `closing`).
    if (handler_busy) {
      after_handler = proceed;
    } else {
      asio::post(io, proceed);
    }
  }

  void CloseNow() {
    auto finish = [](Impl& s) {
      s.CallHandler(&TargetHandler::Close, [](Impl& t, Status st) {
        if (!st.ok()) t.Fail("close failed", st);
        if (t.close_done) {
          auto d = std::move(t.close_done);
          d(Status::Ok());
        }
      });
    };
    if (pre_close == TargetState::kActive || pre_close == TargetState::kWarming ||
        pre_close == TargetState::kDraining) {
      dp.Disable(cfg.name, Guard([finish](Impl& s, Status st) {
        if (!st.ok()) s.log.Warn("could not switch forwarding off at shutdown", {{"error", st.message()}});
        s.dp.Flush(s.Keys(), s.Guard([finish](Impl& t, Status) { finish(t); }));
      }));
      return;
    }
    finish(*this);
  }
};

Target::Target(asio::io_context& io, const config::Target& cfg, std::vector<Mapping> mappings,
               Dataplane& dataplane, Logger log, Hooks hooks)
    : impl_(std::make_shared<Impl>(io, cfg, std::move(mappings), dataplane, std::move(log),
                                   std::move(hooks))) {}

Target::~Target() = default;

void Target::SetHandler(std::unique_ptr<TargetHandler> handler) { impl_->handler = std::move(handler); }
const std::string& Target::name() const { return impl_->cfg.name; }
TargetState Target::state() const { return impl_->state; }
const std::string& Target::last_error() const { return impl_->last_error; }
std::chrono::system_clock::time_point Target::since() const { return impl_->since; }
std::uint32_t Target::flows() const { return impl_->flows; }
const std::vector<Mapping>& Target::mappings() const { return impl_->mappings; }

Status Target::Warm() { return impl_->Warm(); }
Status Target::Drain(const std::string& why) { return impl_->Drain(why); }

void Target::AdoptAtStart(bool was_active) {
  Impl& s = *impl_;
  bool running = s.handler->Adopt();
  if (was_active && running) {
    s.dp.Preset(s.cfg.name, s.mappings);
    s.log.Info("adopted as active after an engine restart");
    s.BecomeActive();
  } else if (was_active) {
    s.log.Info("was active before the engine restarted, but its backend is gone; starting cold");
    if (s.hooks.changed) s.hooks.changed(TargetState::kInactive);
  } else {
    // A backend left by an interrupted warm or drain.
    s.CallHandler(&TargetHandler::Drain, [](Impl&, Status) {});
  }
}

void Target::OnCountsChanged() { impl_->OnCountsChanged(); }
void Target::OnBackendExited(const std::string& why) { impl_->OnBackendExited(why); }
void Target::Close(Done done) { impl_->Close(std::move(done)); }

}  // namespace engine
