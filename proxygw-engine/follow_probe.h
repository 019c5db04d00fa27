// FollowProbe: on a node that follows (HA backup or fault, docs/ha.md),
// whether a target's backend answers. Every `interval` it runs a readiness
// probe (readiness.h) of the target's TCP endpoint addresses, bounded by
// `interval`: all accept a connection, live; otherwise down. It reports the
// first verdict, then every change. It starts nothing and stops nothing: the
// backend belongs to the master. Event loop only; nothing runs after Stop or
// destruction.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <vector>

#include "common/net_address.h"

namespace boost::asio {
class io_context;
}

namespace engine {

class FollowProbe {
 public:
  // `addresses` must not be empty (a target without a TCP endpoint has
  // nothing to probe, and is never followed). `changed(live)` runs on the
  // loop, never from inside Start.
  static std::shared_ptr<FollowProbe> Start(boost::asio::io_context& io,
                                            std::vector<common::AddrPort> addresses,
                                            std::chrono::seconds interval,
                                            std::function<void(bool live)> changed);
  virtual ~FollowProbe() = default;
  virtual void Stop() = 0;
};

}  // namespace engine
