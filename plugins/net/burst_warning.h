// BurstWarning: one WARN line per burst of the same trouble (a host out of
// file descriptors, a flood of clients), and at most one per quiet period, so
// that the trouble does not also flood the log (B21); the rest goes to DEBUG.
// Used by the frontends' listeners inside proxygw-engine, on its event loop.
#pragma once

#include <chrono>

namespace plugins::net {

class BurstWarning {
 public:
  // A failure: true when it is the one to log at WARN.
  bool Fail() {
    if (in_burst_) return false;
    in_burst_ = true;
    auto now = std::chrono::steady_clock::now();
    if (warned_ && now - last_warning_ < kQuietPeriod) return false;
    warned_ = true;
    last_warning_ = now;
    return true;
  }
  // Things work again; the next failure starts a new burst.
  void End() { in_burst_ = false; }

 private:
  static constexpr std::chrono::seconds kQuietPeriod{30};
  bool in_burst_ = false;
  bool warned_ = false;
  std::chrono::steady_clock::time_point last_warning_;
};

}  // namespace plugins::net
