// Backoff: the waits between attempts of something that keeps failing: the
// first wait, then twice the last, up to a ceiling; Reset once it worked. The
// engine's retries use it (a target switching its forwarding, the netd
// connection), so that every retry in the engine is bounded in rate the same
// way. A plain value: no timer, no clock; any thread, no locking.
#pragma once

#include <chrono>

namespace engine {

class Backoff {
 public:
  // `first` > 0 and `first` <= `max`.
  Backoff(std::chrono::milliseconds first, std::chrono::milliseconds max);

  // The wait before the next attempt: `first` after a Reset, then doubled
  // each call, never above `max`.
  std::chrono::milliseconds Next();
  // Back to `first` (the thing worked).
  void Reset();
  // Next() calls since the last Reset: how many attempts failed in a row.
  int failures() const { return failures_; }

 private:
  std::chrono::milliseconds first_, max_, next_;
  int failures_ = 0;
};

}  // namespace engine
