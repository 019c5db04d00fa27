#include "proxygw-engine/forwarding_switch.h"

namespace engine {

using common::Status;

namespace {
// Retries of one switch: soon after a passing failure, at most every 30 s
// while netd stays away (its reconnect runs the retry at once anyway).
constexpr auto kFirstRetry = std::chrono::seconds(1);
constexpr auto kMaxRetry = std::chrono::seconds(30);
}  // namespace

ForwardingSwitch::ForwardingSwitch(boost::asio::io_context& io, Dataplane& dp, std::string owner,
                                   std::vector<ipc::netd::Mapping> mappings, Retrying retrying)
    : dp_(dp),
      owner_(std::move(owner)),
      mappings_(std::move(mappings)),
      retrying_(std::move(retrying)),
      retry_(io, Backoff(kFirstRetry, kMaxRetry)) {
  for (const auto& m : mappings_) keys_.push_back(m.key);
}

ForwardingSwitch::~ForwardingSwitch() = default;

void ForwardingSwitch::SwitchOn(Done done) {
  ++wish_;
  want_on_ = true;
  once_ = false;
  done_ = std::move(done);
  // Flows left from switching off belong to the backend that was stopped;
  // flushing by key now would hit the new mapping's flows.
  unflushed_ = false;
  retry_.Cancel();
  retry_.Reset();
  Step();
}

void ForwardingSwitch::SwitchOff(Done done, bool once) {
  ++wish_;
  want_on_ = false;
  once_ = once;
  done_ = std::move(done);
  retry_.Cancel();
  retry_.Reset();
  Step();
}

void ForwardingSwitch::AssumeOn() { on_ = true; }

void ForwardingSwitch::Dropped() {
  if (!on_) return;
  on_ = false;
  unflushed_ = true;
}

void ForwardingSwitch::OnReconnected() { retry_.Hurry(); }

bool ForwardingSwitch::off() const { return !busy_ && !on_ && !unflushed_; }

// Sends the next request the current wish needs, or finishes it. Called
// whenever something changed: a wish, a completion, a retry's time.
void ForwardingSwitch::Step() {
  if (busy_) return;  // its completion steps again
  auto sent = [this, w = std::weak_ptr<bool>(alive_), wish = wish_](Request r) {
    return [this, w, wish, r](Status st) {
      if (w.lock()) Sent(wish, r, st);
    };
  };
  if (want_on_) {
    if (on_) return Finish(Status::Ok());
    busy_ = true;
    return dp_.Enable(owner_, mappings_, sent(Request::kEnable));
  }
  if (on_) {
    busy_ = true;
    return dp_.Disable(owner_, sent(Request::kDisable));
  }
  if (unflushed_) {
    busy_ = true;
    return dp_.Flush(keys_, sent(Request::kFlush));
  }
  Finish(Status::Ok());
}

void ForwardingSwitch::Sent(std::uint64_t wish, Request r, Status st) {
  busy_ = false;
  // NotFound: netd knows no such mapping (it restarted): no flows to find.
  if (r == Request::kFlush && st.IsNotFound()) st = Status::Ok();
  if (st.ok()) {
    switch (r) {
      case Request::kEnable:
        on_ = true;
        break;
      case Request::kDisable:
        on_ = false;
        unflushed_ = true;
        break;
      case Request::kFlush:
        unflushed_ = false;
        break;
    }
  }
  // A request sent for an earlier wish: what it did is recorded above; the
  // current wish decides what comes next.
  if (st.ok() || wish != wish_) return Step();
  if (r == Request::kEnable && st.IsInvalidArgument()) {
    want_on_ = false;  // refused: retrying would be refused again
    return Finish(st);
  }
  if (once_) return Finish(st);
  if (retrying_) retrying_(want_on_, st);
  retry_.Schedule([this, w = std::weak_ptr<bool>(alive_)] {
    if (w.lock()) Step();
  });
}

void ForwardingSwitch::Finish(const Status& st) {
  retry_.Reset();
  auto done = std::move(done_);
  done_ = nullptr;
  if (done) done(st);
}

}  // namespace engine
