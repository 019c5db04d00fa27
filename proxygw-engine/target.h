// Target: one backend's state machine, with the original's states and
// numbers (inactive 1, active 2, warming 3, draining 4, closed 6) and its
// bugs fixed (upstream-behaviour.md sections 5 and 16):
//
//   inactive --Warm--> warming: the handler warms the backend; then the
//       target waits until its TCP endpoints accept connections (bounded by
//       ready_timeout); then its mappings go on. Only then is it active. A
//       failure to switch them on is retried with back-off (never on a flow
//       push), so it is never active without forwarding; a mapping netd would
//       refuse fails the warm. A warm, readiness or refusal failure winds it
//       down with the error recorded.
//   warming or active --Drain (idle, ctl, shutdown)--> draining: winds down.
//   Winding down: mappings off and their flows flushed (retried with back-off
//       until done: inactive implies forwarding off), the handler stops the
//       backend, then inactive. It passes through draining unless there is
//       nothing to wait for.
//   active: the idle clock starts when it becomes active and whenever its
//       flow count drops to zero; idle_timeout later, with still no flow, it
//       drains. The clock does not run out while the flow counts are not
//       current (netd unreachable, or its flow snapshot not in yet).
//   A backend that exits on its own while warming or active: wound down
//       (forwarding off, no stop), inactive with the error recorded.
//   Following (high availability, docs/ha.md: the node is backup or in
//       fault): the target decides nothing. Follow ends its run at once
//       (no drain, no stop); it shows as inactive while a FollowProbe tries
//       its TCP endpoints every 2 s, or, without any, asks its kind's check
//       (TargetHandler::CheckRunning) at the kind's interval: while the
//       backend answers ("live") its mappings are on, as on the master (they
//       capture nothing until the virtual address moves here), and off once
//       it stops answering. A target with neither is never live. Warm and
//       Drain are refused.
//       Lead (the node became master): a live target becomes active without
//       a warm (the handler takes the running backend over) and its idle
//       clock starts. One that was not live but can be probed is probed once
//       first ("promoting": warms and drains refused meanwhile): taken over
//       if its backend runs, else inactive. The others are inactive,
//       forwarding off, and warm on demand.
//   Close (shutdown): closed at once and for good (requests are refused, late
//       callbacks ignored); then, in the background, forwarding goes off (one
//       attempt) and the handler closes (stopping the backend), after any
//       handler call in flight.
//
// Handler calls never overlap: they are queued (HandlerQueue). Event loop
// only; every callback is guarded against running after Close, and against
// acting on a later warm than the one that started it.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "proxygw-engine/config/config.h"
#include "proxygw-engine/dataplane.h"
#include "proxygw-engine/log.h"
#include "proxygw-engine/metrics.h"
#include "proxygw-engine/plugin_api.h"

namespace boost::asio {
class io_context;
}

namespace engine {

enum class TargetState : int { kInactive = 1, kActive = 2, kWarming = 3, kDraining = 4, kClosed = 6 };
const char* TargetStateName(TargetState s);

class Target {
 public:
  struct Hooks {
    std::function<void()> failed;                 // went inactive by failure, not by a drain
    std::function<void(TargetState)> changed;     // entered a new state
    // Where it counts its warms, drains, failures and cold starts (metrics.h);
    // null: counters of its own.
    TargetCounters* counters = nullptr;
  };

  // `mappings`: every DNAT mapping of the frontends that forward to this
  // target. `handler` may be set later (SetHandler) but before any request.
  Target(boost::asio::io_context& io, const config::Target& cfg,
         std::vector<ipc::netd::Mapping> mappings, Dataplane& dataplane, Logger log, Hooks hooks);
  ~Target();
  Target(const Target&) = delete;
  Target& operator=(const Target&) = delete;

  void SetHandler(std::unique_ptr<TargetHandler> handler);

  // A frontend (`by`, its name) keeps the target warm: its idle clock never
  // drains it (a drain by ctl still does). Empty: none does (a config reload
  // removed it); an active target's idle clock then starts anew.
  void KeepWarm(const std::string& by);
  const std::string& kept_warm_by() const;  // empty when none

  const std::string& name() const;
  TargetState state() const;
  const std::string& last_error() const;
  std::chrono::system_clock::time_point since() const;
  std::uint32_t flows() const;
  const std::vector<ipc::netd::Mapping>& mappings() const;
  const TargetCounters& counters() const;

  // Ok when accepted or nothing to do (warming, active); Unavailable when
  // draining or closed.
  common::Status Warm();
  // Ok when accepted or nothing to do (inactive, draining); Unavailable when
  // closed. A warming target winds down too: its readiness wait and
  // forwarding retries end, and its backend is stopped once the handler's
  // warm (if in flight) has returned. `why` is logged ("idle", "ctl").
  common::Status Drain(const std::string& why);

  // A config reload changed the frontends that forward to this target:
  // `mappings` replace its mappings, in any state. Forwarding that is on
  // changes to the new set in one dataplane request (the mappings that stay,
  // and their flows, are untouched; the flows of those that went are
  // flushed); the state does not change.
  void SetMappings(std::vector<ipc::netd::Mapping> mappings);

  // At engine start, before the dataplane connects: asks the handler to take
  // over a backend left by an engine restart. If the target was active
  // (`was_active`, from the state store) and the backend still runs, it is
  // active again (its mappings preset in the dataplane, so the first sync
  // keeps them and their flows) and its idle clock starts; if it was not
  // active, a leftover backend is stopped.
  void AdoptAtStart(bool was_active);

  // The dataplane's flow counts changed. While they are not current
  // (disconnected), flows() keeps the last count.
  void OnCountsChanged();
  // The dataplane connected (in sync, flow snapshot in) or disconnected. A
  // reconnect runs a waiting forwarding retry at once, once.
  void OnConnectionChanged(bool connected);
  // The dataplane left this target's mappings out of a sync: netd would
  // refuse them (`why`). A warming or active target winds down with the error.
  void OnForwardingRefused(const common::Status& why);
  // The handler's backend stopped by itself.
  void OnBackendExited(const std::string& why);

  // High availability (see the state comment above). Follow: the node is a
  // follower from now on; Lead: the node is the master. Either is a no-op
  // when it already is; both are ignored once closed. A target starts as a
  // leader (a node without HA is always master).
  void Follow();
  void Lead();
  bool following() const;
  // While following: its backend answered the last probe (its mappings are,
  // or are being switched, on).
  bool live() const;
  // Leading, but the probe that decides whether the backend runs (after a
  // promotion of a target that was not live) has not answered: warms and
  // drains are refused until it has.
  bool promoting() const;
  // Whether a follower can tell if its backend runs: it has a TCP endpoint,
  // or its kind has a check (TargetHandler::RunningCheckInterval). Once a
  // handler is set.
  bool followable() const;

  // Shutdown: the state is closed at once; then the mappings go off (if they
  // were on), and the handler is closed once no call of it is in flight.
  // `done` runs once, when the handler has closed.
  void Close(Done done);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace engine
