#include "proxygw-engine/repeated_failure.h"

namespace engine {

std::optional<int> RepeatedFailure::Note(const std::string& why, Clock::time_point now) {
  if (why != last_) {
    last_ = why;
    since_logged_ = 0;
    logged_at_ = now;
    return 0;
  }
  ++since_logged_;
  if (now - logged_at_ < every_) return std::nullopt;
  int n = since_logged_;
  since_logged_ = 0;
  logged_at_ = now;
  return n;
}

void RepeatedFailure::Clear() {
  last_.clear();
  since_logged_ = 0;
}

}  // namespace engine
