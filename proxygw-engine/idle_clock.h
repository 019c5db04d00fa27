// IdleClock: when an active target has gone idle_timeout without a flow. The
// clock starts when the target becomes active and again whenever its flow
// count drops to zero; a flow stops it. When it runs out it looks at the
// count once more: with flows it stops (a drop to zero starts it again); with
// the count unknown (netd unreachable, or connected but its flow snapshot not
// in yet) it looks again every `recheck_blind`, never deciding blind; with no
// flow it reports `ran_out`. Event loop only; nothing runs after it is
// destroyed.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>

namespace boost::asio {
class io_context;
}

namespace engine {

class IdleClock {
 public:
  // The target's flows now, or nullopt when unknown.
  using Flows = std::function<std::optional<std::uint32_t>()>;

  IdleClock(boost::asio::io_context& io, std::chrono::milliseconds idle_timeout, Flows flows,
            std::function<void()> ran_out,
            std::chrono::milliseconds recheck_blind = std::chrono::seconds(5));
  ~IdleClock();
  IdleClock(const IdleClock&) = delete;
  IdleClock& operator=(const IdleClock&) = delete;

  // The target became active: the clock starts now, whatever the count.
  void Start();
  // The target is no longer active: the clock stops until the next Start.
  void Stop();
  // The count changed to `n` (a known count; an unknown one changes
  // nothing): a flow stops the clock, a drop to zero starts it again.
  // Nothing while stopped by Stop.
  void OnFlows(std::uint32_t n);

  // Counting down (including waiting to look again while blind).
  bool running() const;

 private:
  struct State;
  std::shared_ptr<State> s_;
};

}  // namespace engine
