// FollowProbe: on a node that does not own a target's backend (an HA backup
// or a node in fault, following the master; a new master before it takes a
// backend over; docs/ha.md), whether the backend runs. It runs one round of
// its Check at once, then one `interval` after each round ends: live when
// the round answered ok, down otherwise. It reports the first verdict, then
// every change. Two checks exist: the target's TCP endpoints accept a
// connection (readiness.h), or its kind's own check
// (TargetHandler::CheckRunning). It starts nothing and stops nothing: the
// backend belongs to the master. Event loop only; nothing runs after Stop
// or destruction.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "common/net_address.h"
#include "common/status.h"

namespace boost::asio {
class io_context;
}

namespace engine {

class TargetHandler;

class FollowProbe {
 public:
  using Answer = std::function<void(common::Status)>;  // ok: the backend runs
  using Abandon = std::function<void()>;
  // One round: asks whether the backend runs and calls `answer` once, on
  // the loop, perhaps before it returns. The function it returns abandons
  // the round: `answer` is not called after it.
  using Check = std::function<Abandon(Answer answer)>;

  // All of `addresses` (not empty) accept a connection within `bound`.
  static Check TcpEndpoints(boost::asio::io_context& io, std::vector<common::AddrPort> addresses,
                            std::chrono::seconds bound);
  // The handler's CheckRunning. The handler must outlive the probe.
  static Check KindCheck(TargetHandler& handler);

  // `changed(live)` runs on the loop, never from inside Start; it may Stop
  // the probe.
  static std::shared_ptr<FollowProbe> Start(boost::asio::io_context& io, Check check,
                                            std::chrono::seconds interval,
                                            std::function<void(bool live)> changed);
  virtual ~FollowProbe() = default;
  virtual void Stop() = 0;
};

}  // namespace engine
