#include "proxygw-engine/follow_probe.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cassert>
#include <optional>

#include "proxygw-engine/plugin_api.h"
#include "proxygw-engine/readiness.h"

namespace engine {
namespace {

namespace asio = boost::asio;

class Follow : public FollowProbe, public std::enable_shared_from_this<Follow> {
 public:
  Follow(asio::io_context& io, Check check, std::chrono::seconds interval,
         std::function<void(bool)> changed)
      : check_(std::move(check)), interval_(interval), timer_(io), changed_(std::move(changed)) {}

  void Round() {
    if (stopped_) return;
    std::weak_ptr<Follow> w = weak_from_this();
    waiting_ = true;
    Abandon abandon = check_([w](common::Status st) {
      auto self = w.lock();
      if (!self || self->stopped_ || !self->waiting_) return;
      self->Answered(st.ok());
    });
    // A check that answered from inside has nothing left to abandon.
    if (waiting_) abandon_ = std::move(abandon);
  }

  void Stop() override {
    stopped_ = true;
    timer_.cancel();
    if (abandon_) abandon_();
    abandon_ = nullptr;
  }

 private:
  void Answered(bool live) {
    waiting_ = false;
    abandon_ = nullptr;
    if (live_ != live) {
      live_ = live;
      changed_(live);
      if (stopped_) return;  // `changed` may stop it
    }
    std::weak_ptr<Follow> w = weak_from_this();
    timer_.expires_after(interval_);
    timer_.async_wait([w](const boost::system::error_code& ec) {
      if (auto s = w.lock(); s && !ec) s->Round();
    });
  }

  Check check_;
  std::chrono::seconds interval_;
  asio::steady_timer timer_;
  std::function<void(bool)> changed_;
  Abandon abandon_;           // of the round under way
  bool waiting_ = false;      // a round is under way
  std::optional<bool> live_;  // the last verdict reported
  bool stopped_ = false;
};

}  // namespace

FollowProbe::Check FollowProbe::TcpEndpoints(asio::io_context& io,
                                             std::vector<common::AddrPort> addresses,
                                             std::chrono::seconds bound) {
  assert(!addresses.empty());
  return [&io, addresses = std::move(addresses), bound](Answer answer) -> Abandon {
    std::shared_ptr<ReadinessProbe> probe =
        ReadinessProbe::Start(io, addresses, bound, std::move(answer));
    return [probe] { probe->Cancel(); };
  };
}

FollowProbe::Check FollowProbe::KindCheck(TargetHandler& handler) {
  return [&handler](Answer answer) -> Abandon {
    auto wanted = std::make_shared<bool>(true);
    handler.CheckRunning([wanted, answer = std::move(answer)](common::Status st) {
      if (*wanted) answer(std::move(st));
    });
    return [wanted] { *wanted = false; };
  };
}

std::shared_ptr<FollowProbe> FollowProbe::Start(asio::io_context& io, Check check,
                                                std::chrono::seconds interval,
                                                std::function<void(bool live)> changed) {
  auto f = std::make_shared<Follow>(io, std::move(check), interval, std::move(changed));
  // Posted: a check may answer from inside, and `changed` never runs from
  // inside Start.
  asio::post(io, [w = std::weak_ptr<Follow>(f)] {
    if (auto s = w.lock()) s->Round();
  });
  return f;
}

}  // namespace engine
