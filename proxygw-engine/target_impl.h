// The target's state machine (target.h), shared by target.cc (warming,
// winding down, flows, adopting, closing) and target_ha.cc (following and
// leading on an HA node, docs/ha.md). Internal to proxygw-engine/target.*.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "proxygw-engine/follow_probe.h"
#include "proxygw-engine/forwarding_switch.h"
#include "proxygw-engine/handler_queue.h"
#include "proxygw-engine/idle_clock.h"
#include "proxygw-engine/readiness.h"
#include "proxygw-engine/target.h"

namespace engine {

// The state machine. Its parts each own one concern: `calls` serialises the
// handler's calls, `forwarding` keeps the dataplane as the target wants it,
// `idle` decides when an active target has been idle long enough. What is
// left here is which state asks what of them.
//
// `cycle` numbers the target's runs: a warm starts one, and winding down or
// closing ends it. A continuation (a handler call, the readiness probe, the
// forwarding switch) belongs to the run that started it and does nothing once
// that run has ended, so no flag of an earlier run can act on a later one.
struct Target::Impl : std::enable_shared_from_this<Impl> {
  boost::asio::io_context& io;
  const config::Target& cfg;
  std::vector<ipc::netd::Mapping> mappings;
  Dataplane& dp;
  Logger log;
  Hooks hooks;
  std::unique_ptr<TargetHandler> handler;
  HandlerQueue calls;
  ForwardingSwitch forwarding;
  IdleClock idle;

  TargetState state = TargetState::kInactive;
  std::string last_error;
  std::chrono::system_clock::time_point since = std::chrono::system_clock::now();
  std::uint32_t flows = 0;
  std::uint64_t cycle = 0;
  std::shared_ptr<ReadinessProbe> probe;
  std::string kept_warm_by;  // a frontend that keeps it warm: it never idles out
  TargetCounters own_counters;
  TargetCounters* counters;                            // hooks.counters, or own_counters
  std::chrono::steady_clock::time_point warm_started;  // for the cold-start duration

  // High availability (target_ha.cc).
  bool following = false;  // HA backup or fault: decides nothing
  bool live = false;       // following: the backend answered the last probe
  bool promoting = false;  // leading, but the promotion probe has not answered
  std::shared_ptr<FollowProbe> follower;  // following, or the promotion probe

  Impl(boost::asio::io_context& i, const config::Target& c, std::vector<ipc::netd::Mapping> m,
       Dataplane& d, Logger l, Hooks h);

  // `f(Impl&, args...)`, unless the target is gone.
  template <class F>
  auto Guard(F f) {
    return [w = weak_from_this(), f = std::move(f)](auto&&... args) mutable {
      if (auto s = w.lock()) f(*s, std::forward<decltype(args)>(args)...);
    };
  }
  // `f(Impl&, args...)`, unless the target is gone or the run that asked has ended.
  template <class F>
  auto InCycle(F f) {
    return Guard([c = cycle, f = std::move(f)](Impl& s, auto&&... args) mutable {
      if (s.cycle == c) f(s, std::forward<decltype(args)>(args)...);
    });
  }
  // Queues a call of the handler's `op`.
  void Call(void (TargetHandler::*op)(Done), Done then);

  void Enter(TargetState s);
  void Fail(const std::string& what, const common::Status& st);
  std::vector<common::AddrPort> TcpAddresses() const;
  std::uint32_t CountFlows() const;
  // The flows now, or nullopt while the dataplane's counts are not current.
  std::optional<std::uint32_t> KnownFlows() const;

  // --- warming: handler warm, readiness, forwarding on (target.cc) ---
  common::Status Warm();
  void WaitReady();
  void SwitchOn();
  void BecomeActive();

  // --- winding down: forwarding off, backend stopped, inactive (target.cc) ---
  void WindDown(bool stop_backend, std::string failure);
  void Stopped(const std::string& failure);
  common::Status Drain(const std::string& why);
  void OnBackendExited(const std::string& why);
  void OnForwardingRefused(const common::Status& why);
  void SetMappings(std::vector<ipc::netd::Mapping> m);

  // --- flows (target.cc) ---
  void OnCountsChanged();
  void OnConnectionChanged(bool connected);

  // --- high availability: following and leading (target_ha.cc) ---
  common::Status NotDeciding() const;
  // How this node can tell whether the backend runs: its TCP endpoints when
  // it has any, else its kind's check; nullopt when neither.
  struct Probing {
    FollowProbe::Check check;
    std::chrono::seconds interval;
    const char* by;  // for the log
  };
  std::optional<Probing> HowToProbe() const;
  void StopProbing();
  void Follow();
  void OnFollowed(bool answers);
  void Lead();
  void OnPromotionProbe(bool runs);
  void TakeOverRunning(const char* why);
  bool Followable() const;

  // --- adopting, closing (target.cc) ---
  void AdoptAtStart(bool was_active);
  void Close(Done done);
};

}  // namespace engine
