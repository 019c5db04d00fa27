// The UDP frontend handler shared by valheim:server and valheim:status (see
// the header).
#include "plugins/valheim/udp_frontend.h"

#include "plugins/net/serving_frontend.h"

namespace plugins::valheim {
namespace {

namespace asio = boost::asio;
using common::Status;

class UdpFrontend final : public net::ServingFrontend<net::UdpSocket> {
 public:
  UdpFrontend(const engine::FrontendContext& ctx, std::string what, DatagramFn on_datagram)
      : ServingFrontend(ctx, std::move(what)),
        on_datagram_(std::make_shared<DatagramFn>(std::move(on_datagram))) {}
  ~UdpFrontend() override { Close(); }

  void Close() override {
    ServingFrontend::Close();
    on_datagram_.reset();
  }

 private:
  common::Result<std::shared_ptr<net::UdpSocket>> Open() override {
    // The socket holds the function weakly through `on_datagram_`'s
    // owner: after Close, nothing of this frontend runs.
    std::weak_ptr<DatagramFn> fn = on_datagram_;
    auto s = net::UdpSocket::Open(
        io_, listen_, dual_stack_, log_,
        [fn, this](std::string_view d, bool truncated, const asio::ip::udp::endpoint& from) {
          if (auto f = fn.lock(); f && server_) (*f)(*server_, d, truncated, from);
        });
    if (s.ok()) (*s)->Run();
    return s;
  }

  std::shared_ptr<DatagramFn> on_datagram_;
};

}  // namespace

std::unique_ptr<engine::FrontendHandler> NewUdpFrontend(const engine::FrontendContext& ctx,
                                                        std::string what, DatagramFn on_datagram) {
  return std::make_unique<UdpFrontend>(ctx, std::move(what), std::move(on_datagram));
}

}  // namespace plugins::valheim
