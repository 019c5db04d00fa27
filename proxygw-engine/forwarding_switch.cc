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
      retry_(io, Backoff(kFirstRetry, kMaxRetry)) {}

ForwardingSwitch::~ForwardingSwitch() = default;

void ForwardingSwitch::SwitchOn(Done done) {
  ++wish_;
  want_on_ = true;
  once_ = false;
  done_ = std::move(done);
  // Flows left from switching off belong to the backend that was stopped;
  // flushing by key now would hit the new mappings' flows. (Keys not among
  // the new mappings are still flushed.)
  for (const auto& m : mappings_) unflushed_.erase(m.key);
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

void ForwardingSwitch::Remap(std::vector<ipc::netd::Mapping> mappings, Done applied) {
  mappings_ = std::move(mappings);
  ++version_;
  applied_ = std::move(applied);
  // A retry waiting for its time goes now, with the new set; the back-off
  // goes on from where it was.
  retry_.Cancel();
  Step();
}

void ForwardingSwitch::AssumeOn() {
  on_ = true;
  on_version_ = version_;
  on_keys_.clear();
  for (const auto& m : mappings_) on_keys_.push_back(m.key);
}

void ForwardingSwitch::Dropped() {
  if (!on_) return;
  on_ = false;
  unflushed_.insert(on_keys_.begin(), on_keys_.end());
}

void ForwardingSwitch::OnReconnected() { retry_.Hurry(); }

bool ForwardingSwitch::off() const { return !busy_ && !on_ && unflushed_.empty(); }

// Sends the next request the current wish needs, or finishes it. Called
// whenever something changed: a wish, a remap, a completion, a retry's time.
void ForwardingSwitch::Step() {
  if (busy_) return;  // its completion steps again
  auto sent = [this, w = std::weak_ptr<bool>(alive_), wish = wish_](
                  Request r, std::vector<ipc::netd::MappingKey> keys = {},
                  std::uint64_t version = 0) {
    return [this, w, wish, r, keys = std::move(keys), version](Status st) {
      if (w.lock()) Sent(wish, r, keys, version, st);
    };
  };
  std::vector<ipc::netd::MappingKey> flush(unflushed_.begin(), unflushed_.end());
  if (want_on_) {
    if (!on_ || on_version_ != version_) {
      busy_ = true;
      std::vector<ipc::netd::MappingKey> keys;
      for (const auto& m : mappings_) keys.push_back(m.key);
      return dp_.Enable(owner_, mappings_, sent(Request::kEnable, std::move(keys), version_));
    }
    // On, as wished: say so before flushing what a remap left behind.
    if (done_) {
      Finish(Status::Ok());
      return Step();
    }
    if (flush.empty()) return Settled();
    busy_ = true;
    return dp_.Flush(flush, sent(Request::kFlush, flush));
  }
  if (on_) {
    busy_ = true;
    return dp_.Disable(owner_, sent(Request::kDisable));
  }
  if (!flush.empty()) {
    busy_ = true;
    return dp_.Flush(flush, sent(Request::kFlush, flush));
  }
  Settled();
}

void ForwardingSwitch::Sent(std::uint64_t wish, Request r, std::vector<ipc::netd::MappingKey> keys,
                            std::uint64_t version, Status st) {
  busy_ = false;
  // NotFound: netd knows no such mapping (it restarted): no flows to find.
  if (r == Request::kFlush && st.IsNotFound()) st = Status::Ok();
  if (st.ok()) {
    switch (r) {
      case Request::kEnable: {
        // What it held and the new set lacks is gone now; their flows stay
        // until flushed. What it holds now must not be flushed.
        std::set<ipc::netd::MappingKey> now(keys.begin(), keys.end());
        if (on_) {
          for (const auto& k : on_keys_) {
            if (!now.count(k)) unflushed_.insert(k);
          }
        }
        for (const auto& k : keys) unflushed_.erase(k);
        on_ = true;
        on_version_ = version;
        on_keys_ = std::move(keys);
        break;
      }
      case Request::kDisable:
        on_ = false;
        unflushed_.insert(on_keys_.begin(), on_keys_.end());
        break;
      case Request::kFlush:
        for (const auto& k : keys) unflushed_.erase(k);
        break;
    }
  }
  // A request sent for an earlier wish: what it did is recorded above; the
  // current wish decides what comes next.
  if (st.ok() || wish != wish_) return Step();
  // Refused outright: retrying would be refused again. Not so for a remap of
  // mappings that are on: the key may be on its way from another target.
  if (r == Request::kEnable && st.IsInvalidArgument() && !on_) {
    want_on_ = false;
    return Finish(st);
  }
  if (once_) return Finish(st);
  if (retrying_) retrying_(want_on_, st);
  retry_.Schedule([this, w = std::weak_ptr<bool>(alive_)] {
    if (w.lock()) Step();
  });
}

void ForwardingSwitch::Settled() {
  if (auto applied = std::move(applied_)) {
    applied_ = nullptr;
    applied(Status::Ok());
  }
  Finish(Status::Ok());
}

void ForwardingSwitch::Finish(const Status& st) {
  retry_.Reset();
  auto done = std::move(done_);
  done_ = nullptr;
  if (done) done(st);
}

}  // namespace engine
