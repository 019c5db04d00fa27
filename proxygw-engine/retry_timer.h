// RetryTimer: runs a step again after a Backoff wait, on the engine's loop.
// It is how the engine retries: a target switching its forwarding on or off,
// the netd connection. At most one step waits at a time; a new one replaces
// it. Event loop only; destroying it forgets the waiting step (it never runs
// afterwards).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>

#include "proxygw-engine/backoff.h"

namespace boost::asio {
class io_context;
}

namespace engine {

class RetryTimer {
 public:
  RetryTimer(boost::asio::io_context& io, Backoff backoff);
  ~RetryTimer();
  RetryTimer(const RetryTimer&) = delete;
  RetryTimer& operator=(const RetryTimer&) = delete;

  // Runs `step` on the loop after the back-off's next wait (never inside this
  // call), replacing a step still waiting. Returns the wait.
  std::chrono::milliseconds Schedule(std::function<void()> step);
  // The waiting step runs now (posted to the loop) instead of at its time;
  // the back-off keeps its place, so a step that fails again waits longer.
  // Nothing when no step waits.
  void Hurry();
  // Forgets the waiting step, if any.
  void Cancel();
  // The retried thing worked: the next wait is the back-off's first again.
  // A waiting step stays.
  void Reset();

  bool waiting() const;
  // Waits scheduled since the last Reset.
  int failures() const;

 private:
  struct State;
  std::shared_ptr<State> s_;
};

}  // namespace engine
