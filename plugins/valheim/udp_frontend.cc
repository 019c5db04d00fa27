// The UDP frontend handler shared by valheim:server and valheim:status (see
// the header).
#include "plugins/valheim/udp_frontend.h"

#include <boost/asio/post.hpp>

namespace plugins::valheim {
namespace {

namespace asio = boost::asio;
using common::Status;

class UdpFrontend final : public engine::FrontendHandler {
 public:
  UdpFrontend(const engine::FrontendContext& ctx, std::string what, DatagramFn on_datagram)
      : io_(ctx.io),
        listen_(ctx.config.listen),
        dual_stack_(ctx.config.DualStack()),
        log_(ctx.log),
        what_(std::move(what)),
        on_datagram_(std::make_shared<DatagramFn>(std::move(on_datagram))) {}
  ~UdpFrontend() override { Close(); }

  void Start(engine::Done done) override {
    if (closed_) return;
    if (!socket_) {
      // The socket holds the function weakly through `on_datagram_`'s
      // owner: after Close, nothing of this frontend runs.
      std::weak_ptr<DatagramFn> fn = on_datagram_;
      auto s = net::UdpSocket::Open(
          io_, listen_, dual_stack_, log_,
          [fn, this](std::string_view d, bool truncated, const asio::ip::udp::endpoint& from) {
            if (auto f = fn.lock(); f && socket_) (*f)(*socket_, d, truncated, from);
          });
      if (!s.ok()) return Finish(std::move(done), s.status());
      socket_ = std::move(*s);
      socket_->Run();
      log_.Debug("serving " + what_, {{"listen", listen_.ToString()}});
    }
    Finish(std::move(done), Status::Ok());
  }

  void Stop(engine::Done done) override {
    if (closed_) return;
    StopServing();
    Finish(std::move(done), Status::Ok());
  }

  void Close() override {
    StopServing();
    closed_ = true;
    on_datagram_.reset();
    alive_.reset();
  }

 private:
  void StopServing() {
    if (!socket_) return;
    socket_->Shutdown();
    socket_.reset();
    log_.Debug("stopped serving " + what_, {{"listen", listen_.ToString()}});
  }

  // Done runs later on the loop, never inside Start or Stop, and not at all
  // once Close ran.
  void Finish(engine::Done done, Status status) {
    asio::post(io_, [alive = std::weak_ptr<bool>(alive_), done = std::move(done),
                     status = std::move(status)] {
      if (alive.lock()) done(status);
    });
  }

  asio::io_context& io_;
  common::AddrPort listen_;
  bool dual_stack_;
  engine::Logger log_;
  std::string what_;
  std::shared_ptr<DatagramFn> on_datagram_;
  std::shared_ptr<net::UdpSocket> socket_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool closed_ = false;
};

}  // namespace

std::unique_ptr<engine::FrontendHandler> NewUdpFrontend(const engine::FrontendContext& ctx,
                                                        std::string what, DatagramFn on_datagram) {
  return std::make_unique<UdpFrontend>(ctx, std::move(what), std::move(on_datagram));
}

}  // namespace plugins::valheim
