#include "proxygw-engine/backoff.h"

#include <algorithm>
#include <cassert>

namespace engine {

Backoff::Backoff(std::chrono::milliseconds first, std::chrono::milliseconds max)
    : first_(first), max_(max), next_(first) {
  assert(first.count() > 0 && first <= max);
}

std::chrono::milliseconds Backoff::Next() {
  auto wait = next_;
  next_ = std::min(next_ * 2, max_);
  ++failures_;
  return wait;
}

void Backoff::Reset() {
  next_ = first_;
  failures_ = 0;
}

}  // namespace engine
