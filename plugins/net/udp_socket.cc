// A frontend's UDP socket (see the header).
#include "plugins/net/udp_socket.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <boost/asio/ip/v6_only.hpp>
#include <cerrno>
#include <chrono>
#include <utility>

#include "common/unique_fd.h"
#include "plugins/net/tcp_listener.h"

namespace plugins::net {

namespace asio = boost::asio;
using udp = asio::ip::udp;
using boost::system::error_code;
using common::Status;

std::string AddressBytes(const udp::endpoint& e) {
  const auto a = e.address();
  if (a.is_v4()) {
    auto b = a.to_v4().to_bytes();
    return std::string(b.begin(), b.end());
  }
  const auto v6 = a.to_v6();
  if (v6.is_v4_mapped()) {
    auto b = asio::ip::make_address_v4(asio::ip::v4_mapped, v6).to_bytes();
    return std::string(b.begin(), b.end());
  }
  auto b = v6.to_bytes();
  return std::string(b.begin(), b.end());
}

std::string EndpointText(const udp::endpoint& e) {
  return net::EndpointText(asio::ip::tcp::endpoint(e.address(), e.port()));
}

common::Result<std::shared_ptr<UdpSocket>> UdpSocket::Open(asio::io_context& io,
                                                           const common::AddrPort& at,
                                                           bool dual_stack,
                                                           const engine::Logger& log,
                                                           ReceiveFn receive) {
  const std::string what = "listen on " + at.ToString();
  const bool v6 = at.address.is_v6();
  // Close-on-exec from the start: a backend the engine spawns must not
  // inherit the socket and keep the port.
  common::UniqueFd fd(
      ::socket(v6 ? AF_INET6 : AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_UDP));
  if (!fd.valid()) return Status::FromErrno(what, errno);
  udp::socket socket(io);
  error_code ec;
  socket.assign(v6 ? udp::v6() : udp::v4(), fd.get(), ec);
  if (ec) return ErrorStatus(what, ec);
  fd.Release();  // the socket owns it now
  if (v6) socket.set_option(asio::ip::v6_only(!dual_stack), ec);
  if (!ec) {
    const auto tcp_end = ToTcpEndpoint(at);
    socket.bind(udp::endpoint(tcp_end.address(), tcp_end.port()), ec);
  }
  if (ec) return ErrorStatus(what, ec);
  return std::make_shared<UdpSocket>(io, std::move(socket), at.ToString(), log, std::move(receive));
}

UdpSocket::UdpSocket(asio::io_context& io, udp::socket socket, std::string listen,
                     const engine::Logger& log, ReceiveFn receive)
    : socket_(std::move(socket)),
      retry_(io),
      listen_(std::move(listen)),
      log_(log),
      receive_(std::move(receive)) {}

void UdpSocket::Shutdown() {
  active_ = false;
  receive_ = nullptr;
  retry_.cancel();
  error_code ignored;
  socket_.close(ignored);
}

void UdpSocket::Receive() {
  socket_.async_receive_from(
      asio::buffer(buffer_), from_, [self = shared_from_this()](error_code ec, std::size_t n) {
        if (!self->active_ || ec == asio::error::operation_aborted) return;
        if (ec) {
          // ECONNREFUSED and the like from an ICMP error of an earlier
          // answer; ENOMEM: wait a little rather than spin.
          if (self->receive_warning_.Fail()) {
            self->log_.Warn("cannot receive datagrams; retrying",
                            {{"listen", self->listen_}, {"error", ec.message()}});
          }
          self->retry_.expires_after(std::chrono::milliseconds(50));
          self->retry_.async_wait([self](error_code e) {
            if (!e && self->active_) self->Receive();
          });
          return;
        }
        self->receive_warning_.End();
        const bool truncated = n > kMaxDatagram;
        ReceiveFn receive = self->receive_;  // it may shut us down
        if (receive)
          receive(std::string_view(self->buffer_.data(), truncated ? kMaxDatagram : n), truncated,
                  self->from_);
        if (self->active_) self->Receive();
      });
}

bool UdpSocket::SendTo(std::string_view datagram, const udp::endpoint& to) {
  if (!active_) return false;
  error_code ec;
  socket_.send_to(asio::buffer(datagram.data(), datagram.size()), to,
                  asio::socket_base::message_flags(MSG_DONTWAIT), ec);
  return !ec;
}

}  // namespace plugins::net
