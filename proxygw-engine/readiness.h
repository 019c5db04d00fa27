// ReadinessProbe: after a target's handler has warmed it, waits until each of
// its TCP endpoint addresses accepts a connection (retrying after 5 ms, then
// backing off to every 20 ms), or
// the ready timeout passes. UDP endpoints have no handshake to wait for: a
// target with none to probe is ready at once. Event loop only.
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

class ReadinessProbe {
 public:
  // Starts probing; `done` runs once, on the loop: ok when all accepted,
  // Unavailable naming the first address that did not (and its last error)
  // after `timeout`. Not called after Cancel().
  static std::shared_ptr<ReadinessProbe> Start(boost::asio::io_context& io,
                                               std::vector<common::AddrPort> addresses,
                                               std::chrono::seconds timeout,
                                               std::function<void(common::Status)> done);
  virtual ~ReadinessProbe() = default;
  virtual void Cancel() = 0;
};

}  // namespace engine
