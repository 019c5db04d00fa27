// HandlerQueue: a target's calls into its handler (Warm, Drain, Close), one
// at a time and in the order asked. A call starts once the one before it has
// completed, and its continuation runs before the next call starts, so that a
// handler never sees a Warm and a Drain overlap (a warm asked for while a
// leftover backend is being stopped waits for the stop). Event loop only;
// nothing runs after the queue is destroyed.
#pragma once

#include <cstddef>
#include <deque>
#include <functional>
#include <memory>

#include "proxygw-engine/dataplane.h"

namespace engine {

class HandlerQueue {
 public:
  // Starts a handler call; it completes through the Done it is given,
  // exactly once, now or later.
  using Call = std::function<void(Done)>;

  // Calls waiting or in flight at most. A target asks for at most four at a
  // time (a leftover's stop, a warm, a drain, the close); more is a bug.
  static constexpr std::size_t kMaxCalls = 8;

  HandlerQueue() = default;
  HandlerQueue(const HandlerQueue&) = delete;
  HandlerQueue& operator=(const HandlerQueue&) = delete;

  // Queues `call`, starting it now when nothing else is queued or in flight;
  // `then` gets its result. Either may run before Push returns.
  void Push(Call call, Done then);

  // A call is in flight.
  bool busy() const { return busy_; }
  // Calls waiting or in flight.
  std::size_t size() const { return waiting_.size() + (busy_ ? 1 : 0); }

 private:
  void Next();

  struct Entry {
    Call call;
    Done then;
  };
  std::deque<Entry> waiting_;
  bool busy_ = false;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace engine
