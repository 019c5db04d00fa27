#include "proxygw-engine/readiness.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>

#include "common/cloexec.h"
#include "proxygw-engine/backoff.h"

namespace engine {
namespace {

namespace asio = boost::asio;
using common::Status;

// Retries start fast and back off: a backend is seen within ~20 ms of
// listening (a held client's SYN waits for this: issue 12's goal is 20 ms
// p50), and one that boots for minutes costs 50 refused connects a second,
// a few microseconds each (one attempt in flight per address at a time).
constexpr auto kFirstRetry = std::chrono::milliseconds(5);
constexpr auto kMaxRetry = std::chrono::milliseconds(20);
constexpr auto kAttemptTimeout = std::chrono::seconds(2);

asio::ip::tcp::endpoint ToEndpoint(const common::AddrPort& a) {
  asio::ip::address ip;
  if (a.address.is_v4()) {
    asio::ip::address_v4::bytes_type b;
    std::copy(a.address.data(), a.address.data() + 4, b.begin());
    ip = asio::ip::address_v4(b);
  } else {
    asio::ip::address_v6::bytes_type b;
    std::copy(a.address.data(), a.address.data() + 16, b.begin());
    ip = asio::ip::address_v6(b);
  }
  return {ip, a.port};
}

class Probe : public ReadinessProbe, public std::enable_shared_from_this<Probe> {
 public:
  Probe(asio::io_context& io, std::vector<common::AddrPort> addrs, std::chrono::seconds timeout,
        std::function<void(Status)> done)
      : io_(io), addrs_(std::move(addrs)), timeout_(timeout), deadline_(io), done_(std::move(done)) {
    last_error_.resize(addrs_.size(), "not tried yet");
    ready_.resize(addrs_.size(), false);
    backoff_.resize(addrs_.size(), Backoff(kFirstRetry, kMaxRetry));
  }

  void Begin() {
    if (addrs_.empty()) return Finish(Status::Ok());
    deadline_.expires_after(timeout_);
    deadline_.async_wait([self = shared_from_this()](const boost::system::error_code& ec) {
      if (ec || self->finished_) return;
      for (std::size_t i = 0; i < self->addrs_.size(); ++i) {
        if (!self->ready_[i]) {
          return self->Finish(Status::Unavailable(
              "endpoint " + self->addrs_[i].ToString() + " did not accept connections within " +
              std::to_string(self->timeout_.count()) + "s (last: " + self->last_error_[i] + ")"));
        }
      }
    });
    for (std::size_t i = 0; i < addrs_.size(); ++i) Attempt(i);
  }

  void Cancel() override {
    finished_ = true;
    deadline_.cancel();
    for (auto& t : timers_) t->cancel();
    for (auto& s : sockets_) {
      boost::system::error_code ignored;
      s->close(ignored);
    }
  }

 private:
  void Attempt(std::size_t i) {
    if (finished_) return;
    auto sock = std::make_shared<asio::ip::tcp::socket>(io_);
    // Opened here rather than by async_connect, to mark it close-on-exec.
    boost::system::error_code open_ec;
    sock->open(ToEndpoint(addrs_[i]).protocol(), open_ec);
    if (!open_ec) (void)common::SetCloexec(sock->native_handle());
    auto timer = std::make_shared<asio::steady_timer>(io_);
    sockets_.push_back(sock);
    timers_.push_back(timer);
    timer->expires_after(kAttemptTimeout);
    timer->async_wait([sock](const boost::system::error_code& ec) {
      if (!ec) {
        boost::system::error_code ignored;
        sock->close(ignored);
      }
    });
    sock->async_connect(ToEndpoint(addrs_[i]), [self = shared_from_this(), i, sock,
                                                timer](const boost::system::error_code& ec) {
      timer->cancel();
      boost::system::error_code ignored;
      sock->close(ignored);
      self->Forget(sock, timer);
      if (self->finished_) return;
      if (!ec) {
        self->ready_[i] = true;
        if (std::all_of(self->ready_.begin(), self->ready_.end(), [](bool b) { return b; })) {
          self->Finish(Status::Ok());
        }
        return;
      }
      self->last_error_[i] = ec == asio::error::operation_aborted ? "connect timed out" : ec.message();
      auto retry = std::make_shared<asio::steady_timer>(self->io_);
      self->timers_.push_back(retry);
      retry->expires_after(self->backoff_[i].Next());
      retry->async_wait([self, i, retry](const boost::system::error_code& e) {
        self->Forget(nullptr, retry);
        if (!e) self->Attempt(i);
      });
    });
  }

  void Forget(const std::shared_ptr<asio::ip::tcp::socket>& s,
              const std::shared_ptr<asio::steady_timer>& t) {
    if (s) sockets_.erase(std::remove(sockets_.begin(), sockets_.end(), s), sockets_.end());
    if (t) timers_.erase(std::remove(timers_.begin(), timers_.end(), t), timers_.end());
  }

  void Finish(Status st) {
    if (finished_) return;
    Cancel();
    auto done = std::move(done_);
    done(std::move(st));
  }

  asio::io_context& io_;
  std::vector<common::AddrPort> addrs_;
  std::chrono::seconds timeout_;
  asio::steady_timer deadline_;
  std::function<void(Status)> done_;
  std::vector<std::string> last_error_;
  std::vector<bool> ready_;
  std::vector<Backoff> backoff_;  // per address
  std::vector<std::shared_ptr<asio::ip::tcp::socket>> sockets_;
  std::vector<std::shared_ptr<asio::steady_timer>> timers_;
  bool finished_ = false;
};

}  // namespace

std::shared_ptr<ReadinessProbe> ReadinessProbe::Start(asio::io_context& io,
                                                      std::vector<common::AddrPort> addresses,
                                                      std::chrono::seconds timeout,
                                                      std::function<void(Status)> done) {
  auto p = std::make_shared<Probe>(io, std::move(addresses), timeout, std::move(done));
  // Begin on the loop, so that `done` never runs inside Start.
  asio::post(io, [p] { p->Begin(); });
  return p;
}

}  // namespace engine
