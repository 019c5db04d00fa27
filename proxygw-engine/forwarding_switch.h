// ForwardingSwitch: one target's mappings in the dataplane, switched on and
// off so that the dataplane ends as the target last asked, whatever the order
// in which its requests complete. It holds the rule "a target that does not
// want forwarding has none": switching off is one sequence (Disable, then
// Flush of the mappings' flows) retried until done, and an Enable that
// completes after the target changed its mind is switched off again.
//
// A config reload may change the mappings (Remap) whatever the wish: mappings
// that are on change to the new set in one request, so those that stay keep
// their flows, and the flows of those that went are flushed.
//
// One dataplane request is in flight at a time. Failures are retried after a
// Backoff wait (a reconnect of the dataplane runs a waiting retry at once);
// a request the dataplane refuses outright (InvalidArgument: netd would
// refuse these mappings every time) is not retried. Event loop only; its
// callbacks never run after it is destroyed.
#pragma once

#include <memory>
#include <set>
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

  // From now on the mappings are `mappings`. When they are on, the dataplane
  // changes to the new set in one request (mappings that stay, and their
  // flows, are untouched), then the flows of the mappings that went are
  // flushed; when they are off, the next SwitchOn uses them. The current
  // wish and its `done` stay. A refusal of the new set (InvalidArgument:
  // another target still holds a listen address, say) is retried like any
  // failure, the old set staying on meanwhile. `applied(ok)` once the
  // dataplane is as the current wish asks, with the new set (at once when
  // nothing is on); a later Remap replaces it, uncalled.
  void Remap(std::vector<ipc::netd::Mapping> mappings, Done applied);

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
  // `keys`: what an Enable sent (of the set `version`) or a Flush flushed.
  void Sent(std::uint64_t wish, Request r, std::vector<ipc::netd::MappingKey> keys,
            std::uint64_t version, common::Status st);
  // Nothing left to do for the current wish.
  void Settled();
  void Finish(const common::Status& st);

  Dataplane& dp_;
  std::string owner_;
  std::vector<ipc::netd::Mapping> mappings_;
  std::uint64_t version_ = 0;  // of mappings_: counts Remaps
  Retrying retrying_;
  RetryTimer retry_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);

  bool want_on_ = false;
  bool once_ = false;
  Done done_;                                   // of the current wish, until it is done
  std::uint64_t wish_ = 0;                      // counts SwitchOn/SwitchOff calls
  bool on_ = false;                             // the dataplane may hold mappings of ours
  std::uint64_t on_version_ = 0;                // while on_: the version it holds
  std::vector<ipc::netd::MappingKey> on_keys_;  // while on_: the keys it holds
  std::set<ipc::netd::MappingKey> unflushed_;   // off, their flows not flushed yet
  Done applied_;                                // of the last Remap, until it is
  bool busy_ = false;                           // a dataplane request is in flight
};

}  // namespace engine
