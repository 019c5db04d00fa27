#include "proxygw-engine/retry_timer.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>

namespace engine {

namespace asio = boost::asio;

// Shared with the timer's and the loop's handlers, which hold it weakly:
// once the RetryTimer is gone they find nothing and do nothing. `generation`
// tells a handler whether its step is still the one waiting.
struct RetryTimer::State {
  State(asio::io_context& i, Backoff b) : io(i), timer(i), backoff(b) {}
  asio::io_context& io;
  asio::steady_timer timer;
  Backoff backoff;
  std::function<void()> step;
  std::uint64_t generation = 0;

  static void RunIfCurrent(const std::weak_ptr<State>& w, std::uint64_t gen) {
    auto s = w.lock();
    if (!s || s->generation != gen || !s->step) return;
    auto step = std::move(s->step);
    s->step = nullptr;
    step();
  }
};

RetryTimer::RetryTimer(asio::io_context& io, Backoff backoff)
    : s_(std::make_shared<State>(io, backoff)) {}

RetryTimer::~RetryTimer() { Cancel(); }

std::chrono::milliseconds RetryTimer::Schedule(std::function<void()> step) {
  auto wait = s_->backoff.Next();
  std::uint64_t gen = ++s_->generation;
  s_->step = std::move(step);
  s_->timer.expires_after(wait);
  s_->timer.async_wait([w = std::weak_ptr<State>(s_), gen](const boost::system::error_code& ec) {
    if (!ec) State::RunIfCurrent(w, gen);
  });
  return wait;
}

void RetryTimer::Hurry() {
  if (!s_->step) return;
  std::uint64_t gen = ++s_->generation;
  s_->timer.cancel();
  asio::post(s_->io, [w = std::weak_ptr<State>(s_), gen] { State::RunIfCurrent(w, gen); });
}

void RetryTimer::Cancel() {
  ++s_->generation;
  s_->step = nullptr;
  s_->timer.cancel();
}

void RetryTimer::Reset() { s_->backoff.Reset(); }

bool RetryTimer::waiting() const { return static_cast<bool>(s_->step); }

int RetryTimer::failures() const { return s_->backoff.failures(); }

}  // namespace engine
