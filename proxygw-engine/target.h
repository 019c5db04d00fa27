// Target: one backend's state machine, with the original's states and
// numbers (inactive 1, active 2, warming 3, draining 4, closed 6) and its
// bugs fixed (upstream-behaviour.md sections 5 and 16):
//
//   inactive --Warm--> warming: the handler warms the backend; then the
//       target waits until its TCP endpoints accept connections (bounded by
//       ready_timeout); then its mappings go on. Only then is it active. A warm
//       or readiness failure returns it to inactive with the error recorded
//       (and the backend stopped); a failure to switch the mappings on keeps it
//       warming and retries, so it is never active without forwarding.
//   active --Drain (idle, ctl, shutdown)--> draining: mappings off, their flows
//       flushed, the handler stops the backend, then inactive. If the mappings
//       cannot be switched off it stays active (still forwarding) and retries.
//   active: the idle clock starts when it becomes active and whenever its
//       flow count drops to zero; idle_timeout later, with still no flow, it
//       drains. The clock does not run out while netd is unreachable.
//   A backend that exits on its own while active: mappings off, flushed,
//       inactive with the error recorded.
//   Close (shutdown): closed at once and for good (requests are refused, late
//       callbacks ignored); then, in the background, forwarding goes off and the
//       handler closes (stopping the backend), after any handler call in flight.
//
// Event loop only; every callback is guarded against running after Close.
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
  };

  // `mappings`: every DNAT mapping of the frontends that forward to this
  // target. `handler` may be set later (SetHandler) but before any request.
  Target(boost::asio::io_context& io, const config::Target& cfg,
         std::vector<ipc::netd::Mapping> mappings, Dataplane& dataplane, Logger log, Hooks hooks);
  ~Target();
  Target(const Target&) = delete;
  Target& operator=(const Target&) = delete;

  void SetHandler(std::unique_ptr<TargetHandler> handler);

  const std::string& name() const;
  TargetState state() const;
  const std::string& last_error() const;
  std::chrono::system_clock::time_point since() const;
  std::uint32_t flows() const;
  const std::vector<ipc::netd::Mapping>& mappings() const;

  // Ok when accepted or nothing to do (warming, active); Unavailable when
  // draining or closed.
  common::Status Warm();
  // Ok when accepted or nothing to do (inactive, draining); Unavailable when
  // warming or closed. `why` is logged ("idle", "ctl").
  common::Status Drain(const std::string& why);

  // At engine start, before the dataplane connects: asks the handler to take
  // over a backend left by an engine restart. If the target was active
  // (`was_active`, from the state store) and the backend still runs, it is
  // active again (its mappings preset in the dataplane, so the first sync
  // keeps them and their flows) and its idle clock starts; if it was not
  // active, a leftover backend is stopped.
  void AdoptAtStart(bool was_active);

  // The dataplane's flow counts or connection changed.
  void OnCountsChanged();
  // The handler's backend stopped by itself.
  void OnBackendExited(const std::string& why);

  // Shutdown: the state is closed at once; then the mappings go off (if they
  // were on), and the handler is closed once no call of it is in flight.
  // `done` runs once, when the handler has closed.
  void Close(Done done);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace engine
