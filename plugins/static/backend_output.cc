#include "plugins/static/backend_output.h"

#include <chrono>

namespace plugins::static_ns {
namespace {

constexpr auto kTailEvery = std::chrono::milliseconds(500);

std::string PathFor(const engine::StateStore& state, const std::string& target,
                    const char* stream) {
  return state.dir().empty() ? "/dev/null" : state.PathFor(target, stream);
}

}  // namespace

BackendOutput::BackendOutput(boost::asio::io_context& io, engine::Logger log,
                             const engine::StateStore& state, const std::string& target)
    : log_(std::move(log)),
      stdout_path_(PathFor(state, target, "stdout")),
      stderr_path_(PathFor(state, target, "stderr")),
      out_(stdout_path_, "stdout"),
      err_(stderr_path_, "stderr"),
      timer_(io) {}

BackendOutput::~BackendOutput() { timer_.cancel(); }

void BackendOutput::Follow(std::function<bool()> running) {
  out_.Begin();
  err_.Begin();
  running_ = std::move(running);
  TailSoon();
}

void BackendOutput::Finish() {
  timer_.cancel();
  out_.Read(log_, true);
  err_.Read(log_, true);
}

void BackendOutput::Cancel() { timer_.cancel(); }

void BackendOutput::TailSoon() {
  timer_.expires_after(kTailEvery);
  timer_.async_wait([w = std::weak_ptr<bool>(alive_), this](const boost::system::error_code& ec) {
    if (ec || !w.lock() || !running_ || !running_()) return;
    out_.Read(log_, false);
    err_.Read(log_, false);
    TailSoon();
  });
}

}  // namespace plugins::static_ns
