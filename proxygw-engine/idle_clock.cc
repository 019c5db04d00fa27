#include "proxygw-engine/idle_clock.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace engine {

namespace asio = boost::asio;

struct IdleClock::State : std::enable_shared_from_this<State> {
  State(asio::io_context& io, std::chrono::milliseconds t, Flows f, std::function<void()> r,
        std::chrono::milliseconds b)
      : timer(io), timeout(t), flows(std::move(f)), ran_out(std::move(r)), recheck_blind(b) {}

  asio::steady_timer timer;
  std::chrono::milliseconds timeout;
  Flows flows;
  std::function<void()> ran_out;
  std::chrono::milliseconds recheck_blind;
  bool active = false;   // between Start and Stop
  bool running = false;  // the timer is set
  std::uint32_t last = 0;

  void Arm(std::chrono::milliseconds after) {
    running = true;
    timer.expires_after(after);
    timer.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
      auto s = w.lock();
      if (ec || !s || !s->running) return;
      s->running = false;
      s->Expired();
    });
  }

  void Disarm() {
    running = false;
    timer.cancel();
  }

  void Expired() {
    std::optional<std::uint32_t> n = flows();
    if (!n) return Arm(recheck_blind);  // counts unknown: never drain blind
    last = *n;
    if (*n > 0) return;  // stopped until the count drops to zero
    ran_out();
  }
};

IdleClock::IdleClock(asio::io_context& io, std::chrono::milliseconds idle_timeout, Flows flows,
                     std::function<void()> ran_out, std::chrono::milliseconds recheck_blind)
    : s_(std::make_shared<State>(io, idle_timeout, std::move(flows), std::move(ran_out),
                                 recheck_blind)) {}

IdleClock::~IdleClock() { s_->Disarm(); }

void IdleClock::Start() {
  s_->active = true;
  s_->last = s_->flows().value_or(0);
  s_->Arm(s_->timeout);
}

void IdleClock::Stop() {
  s_->active = false;
  s_->Disarm();
}

void IdleClock::OnFlows(std::uint32_t n) {
  if (!s_->active) return;
  bool was = s_->last > 0;
  s_->last = n;
  if (n > 0) {
    s_->Disarm();
  } else if (was || !s_->running) {
    s_->Arm(s_->timeout);  // dropped to zero: the clock starts again
  }
}

bool IdleClock::running() const { return s_->running; }

}  // namespace engine
