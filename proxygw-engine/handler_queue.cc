#include "proxygw-engine/handler_queue.h"

#include <cassert>

namespace engine {

void HandlerQueue::Push(Call call, Done then) {
  assert(size() < kMaxCalls);
  waiting_.push_back({std::move(call), std::move(then)});
  Next();
}

void HandlerQueue::Next() {
  // A call that completes at once runs Next again from inside: the loop
  // ends when a call is left in flight or nothing waits.
  while (!busy_ && !waiting_.empty()) {
    Entry e = std::move(waiting_.front());
    waiting_.pop_front();
    busy_ = true;
    e.call([this, w = std::weak_ptr<bool>(alive_), then = std::move(e.then)](common::Status st) {
      if (!w.lock()) return;
      busy_ = false;
      if (then) then(std::move(st));
      if (w.lock()) Next();
    });
  }
}

}  // namespace engine
