// ForwardingSwitch: one target's mappings in the dataplane, switched on and
// off so that the dataplane ends as the target last asked, whatever the order
// in which its requests complete. It holds the rule "a target that does not
// want forwarding has none": switching off is one sequence (Disable, then
// Flush of the mappings' flows) retried until done, and an Enable that
// completes after the target changed its mind is switched off again.
//
// One dataplane request is in flight at a time. Failures are retried after a
// Backoff wait (a reconnect of the dataplane runs a waiting retry at once);
// a request the dataplane refuses outright (InvalidArgument: netd would
// refuse these mappings every time) is not retried. Event loop only; its
// callbacks never run after it is destroyed.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "common/ipc/netd_protocol.h"
#include "common/status.h"
#include "proxygw-engine/dataplane.h"
#include "proxygw-engine/retry_timer.h"

namespace boost::asio {
class io_context;
}

namespace engine {

class ForwardingSwitch {
 public:
  // `retrying(on, why)`: an attempt to switch on (on) or off failed with
  // `why` and will be retried.
  using Retrying = std::function<void(bool on, const common::Status& why)>;

  ForwardingSwitch(boost::asio::io_context& io, Dataplane& dp, std::string owner,
                   std::vector<ipc::netd::Mapping> mappings, Retrying retrying);
  ~ForwardingSwitch();
  ForwardingSwitch(const ForwardingSwitch&) = delete;
  ForwardingSwitch& operator=(const ForwardingSwitch&) = delete;

  // Wants the mappings on. `done(ok)` once they are; `done(InvalidArgument)`
  // when the dataplane refuses them (then nothing is on and nothing is
  // retried). Any other failure is retried until they are on.
  void SwitchOn(Done done);
  // Wants the mappings off and their flows flushed: Disable, then Flush (a
  // Flush that finds no such mapping, NotFound, has nothing to do). `done(ok)`
  // once both are done, at once when nothing is on. Failures are retried
  // until done; with `once`, the first failure ends it with `done(error)`
  // instead (at shutdown, when nobody waits for a retry).
  void SwitchOff(Done done, bool once = false);
  // A new SwitchOn or SwitchOff replaces the one not done yet: the latter's
  // `done` is not called. Either `done` may run before the call returns.

  // The mappings are on already: an engine restart adopted them.
  void AssumeOn();
  // The dataplane no longer holds the mappings (a sync left them out); their
  // flows may still be there, so a SwitchOff flushes them.
  void Dropped();
  // The dataplane (re)connected: a retry waiting for its time runs now, once.
  void OnReconnected();

  // Nothing on, nothing in flight, no flows left to flush.
  bool off() const;

 private:
  enum class Request { kEnable, kDisable, kFlush };
  void Step();
  void Sent(std::uint64_t wish, Request r, common::Status st);
  void Finish(const common::Status& st);

  Dataplane& dp_;
  std::string owner_;
  std::vector<ipc::netd::Mapping> mappings_;
  std::vector<ipc::netd::MappingKey> keys_;
  Retrying retrying_;
  RetryTimer retry_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  bool want_on_ = false;
  bool once_ = false;
  Done done_;               // of the current wish, until it is done
  std::uint64_t wish_ = 0;  // counts SwitchOn/SwitchOff calls
  bool on_ = false;         // the dataplane may hold the mappings
  bool unflushed_ = false;  // switched off, their flows not flushed yet
  bool busy_ = false;       // a dataplane request is in flight
};

}  // namespace engine
