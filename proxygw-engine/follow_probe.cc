#include "proxygw-engine/follow_probe.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cassert>
#include <optional>

#include "proxygw-engine/readiness.h"

namespace engine {
namespace {

namespace asio = boost::asio;

class Follow : public FollowProbe, public std::enable_shared_from_this<Follow> {
 public:
  Follow(asio::io_context& io, std::vector<common::AddrPort> addrs, std::chrono::seconds interval,
         std::function<void(bool)> changed)
      : io_(io),
        addrs_(std::move(addrs)),
        interval_(interval),
        timer_(io),
        changed_(std::move(changed)) {}

  void Round() {
    if (stopped_) return;
    std::weak_ptr<Follow> w = weak_from_this();
    probe_ = ReadinessProbe::Start(io_, addrs_, interval_, [w](common::Status st) {
      auto self = w.lock();
      if (!self || self->stopped_) return;
      self->probe_.reset();
      const bool live = st.ok();
      if (self->live_ != live) {
        self->live_ = live;
        self->changed_(live);
        if (self->stopped_) return;  // `changed` may stop it
      }
      self->timer_.expires_after(self->interval_);
      self->timer_.async_wait([w](const boost::system::error_code& ec) {
        if (auto s = w.lock(); s && !ec) s->Round();
      });
    });
  }

  void Stop() override {
    stopped_ = true;
    timer_.cancel();
    if (probe_) probe_->Cancel();
    probe_.reset();
  }

 private:
  asio::io_context& io_;
  std::vector<common::AddrPort> addrs_;
  std::chrono::seconds interval_;
  asio::steady_timer timer_;
  std::function<void(bool)> changed_;
  std::shared_ptr<ReadinessProbe> probe_;
  std::optional<bool> live_;  // the last verdict reported
  bool stopped_ = false;
};

}  // namespace

std::shared_ptr<FollowProbe> FollowProbe::Start(asio::io_context& io,
                                                std::vector<common::AddrPort> addresses,
                                                std::chrono::seconds interval,
                                                std::function<void(bool live)> changed) {
  assert(!addresses.empty());
  auto f = std::make_shared<Follow>(io, std::move(addresses), interval, std::move(changed));
  f->Round();
  return f;
}

}  // namespace engine
