// RepeatedFailure: whether a failure that keeps happening is worth a log line.
// A failure is news when it first happens or changes; the same one again is
// news only once `every` has passed since it was last logged, and then says
// how often it happened meanwhile. The engine's reconnect to netd uses it, so
// that a netd refusing every attempt costs a line a minute, not one per
// attempt. A plain value: no clock of its own.
#pragma once

#include <chrono>
#include <optional>
#include <string>

namespace engine {

class RepeatedFailure {
 public:
  using Clock = std::chrono::steady_clock;

  explicit RepeatedFailure(std::chrono::milliseconds every) : every_(every) {}

  // `why` happened at `now`. When it is to be logged: how many times it
  // happened since it was last logged (0: it is new); nullopt: stay quiet.
  std::optional<int> Note(const std::string& why, Clock::time_point now);
  // It stopped (connected): the next failure is news, whatever it is.
  void Clear();

 private:
  std::chrono::milliseconds every_;
  std::string last_;
  int since_logged_ = 0;
  Clock::time_point logged_at_;
};

}  // namespace engine
