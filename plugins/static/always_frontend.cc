#include "plugins/static/always_frontend.h"

#include <algorithm>
#include <chrono>

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

namespace plugins::static_ns {
namespace {

namespace asio = boost::asio;
using common::Status;

constexpr auto kFirstRetry = std::chrono::seconds(1);
constexpr auto kMaxRetry = std::chrono::seconds(60);
// A failure this long after the previous one starts the back-off afresh.
constexpr auto kCalm = std::chrono::minutes(10);

class AlwaysFrontend : public engine::FrontendHandler {
 public:
  explicit AlwaysFrontend(const engine::FrontendContext& ctx)
      : warm_(ctx.warm), log_(ctx.log), timer_(ctx.io) {}

  void Start(engine::Done done) override {
    running_ = true;
    warm_();
    done(Status::Ok());
  }

  void Stop(engine::Done done) override {
    running_ = false;
    timer_.cancel();
    done(Status::Ok());
  }

  void Close() override {
    running_ = false;
    timer_.cancel();
  }

  // The original's static:always kept its target up: an idle target is
  // not drained (an operator's proxygwctl drain still is, and is respected).
  bool KeepsTargetWarm() const override { return true; }

  void OnTargetFailed() override {
    if (!running_) return;
    auto now = std::chrono::steady_clock::now();
    if (now - last_failure_ > kCalm) backoff_ = kFirstRetry;
    last_failure_ = now;
    log_.Info("target failed; warming it again", {{"in", std::to_string(backoff_.count()) + "s"}});
    timer_.expires_after(backoff_);
    backoff_ = std::min(backoff_ * 2, std::chrono::seconds(kMaxRetry));
    timer_.async_wait([this](const boost::system::error_code& ec) {
      if (!ec && running_) warm_();
    });
  }

 private:
  std::function<void()> warm_;
  engine::Logger log_;
  asio::steady_timer timer_;
  bool running_ = false;
  std::chrono::seconds backoff_ = kFirstRetry;
  std::chrono::steady_clock::time_point last_failure_{};
};

}  // namespace

std::unique_ptr<engine::FrontendHandler> NewAlwaysFrontend(const engine::FrontendContext& ctx,
                                                           config::ErrorSink& errors) {
  const config::Options& o = ctx.config.options;
  std::size_t before = errors.count();
  config::Fields::Read(errors, o.node, o.path, o.location, {}, /*null_is_empty=*/true);
  if (errors.count() != before) return nullptr;
  return std::make_unique<AlwaysFrontend>(ctx);
}

}  // namespace plugins::static_ns
