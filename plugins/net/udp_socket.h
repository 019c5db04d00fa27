// UdpSocket: a frontend's UDP socket on its listen address, for frontends
// that read datagrams while their target is cold (valheim:server,
// valheim:status). Runs inside proxygw-engine on the engine's event loop:
// close-on-exec, bound like TcpListener (an IPv6 wildcard is dual-stack when
// the frontend is), datagrams handed to a callback one at a time, answers
// sent without blocking (dropped when the socket buffer is full: UDP clients
// retry).
#pragma once

#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/udp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "common/net_address.h"
#include "common/status.h"
#include "plugins/net/burst_warning.h"
#include "proxygw-engine/log.h"

namespace plugins::net {

class UdpSocket : public std::enable_shared_from_this<UdpSocket> {
 public:
  // Called for each datagram (at most kMaxDatagram bytes are read; longer
  // ones arrive cut, with `truncated` set).
  using ReceiveFn = std::function<void(std::string_view datagram, bool truncated,
                                       const boost::asio::ip::udp::endpoint& from)>;

  static constexpr std::size_t kMaxDatagram = 2048;

  // Error: "listen on <at>: <reason>".
  static common::Result<std::shared_ptr<UdpSocket>> Open(boost::asio::io_context& io,
                                                         const common::AddrPort& at,
                                                         bool dual_stack, const engine::Logger& log,
                                                         ReceiveFn receive);

  UdpSocket(boost::asio::io_context& io, boost::asio::ip::udp::socket socket, std::string listen,
            const engine::Logger& log, ReceiveFn receive);
  UdpSocket(const UdpSocket&) = delete;
  UdpSocket& operator=(const UdpSocket&) = delete;

  void Run() { Receive(); }
  // Closes the socket; the receive function is never called again.
  void Shutdown();
  bool active() const { return active_; }
  // Sends one datagram now, or drops it (false) when it cannot go at once.
  bool SendTo(std::string_view datagram, const boost::asio::ip::udp::endpoint& to);

 private:
  void Receive();

  boost::asio::ip::udp::socket socket_;
  boost::asio::steady_timer retry_;
  std::string listen_;
  engine::Logger log_;
  ReceiveFn receive_;
  std::array<char, kMaxDatagram + 1> buffer_{};
  boost::asio::ip::udp::endpoint from_;
  bool active_ = true;
  BurstWarning receive_warning_;
};

// The raw address bytes of `e` (4 or 16), an IPv4-mapped IPv6 address as
// its 4 IPv4 bytes.
std::string AddressBytes(const boost::asio::ip::udp::endpoint& e);
std::string EndpointText(const boost::asio::ip::udp::endpoint& e);

}  // namespace plugins::net
