// TcpListener: the bounded TCP listener that frontends serving a protocol
// while their target is cold share (static:http, minecraft:server). It runs
// inside proxygw-engine, on the engine's one event loop: it opens a
// close-on-exec listening socket on the frontend's listen address, accepts
// in batches, pauses after EMFILE and the like (one WARN per burst), closes
// connections over a cap at once, and aborts every connection it admitted
// when it shuts down. What a connection says is the owner's business.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <unordered_set>

#include "common/net_address.h"
#include "common/status.h"
#include "plugins/net/burst_warning.h"
#include "proxygw-engine/log.h"

namespace plugins::net {

struct TcpListenerLimits {
  std::size_t max_connections = 256;            // more are closed when accepted
  std::chrono::milliseconds accept_retry{100};  // pause after EMFILE and the like
};

// What the listener needs of a connection it admitted: a way to end it now.
class Abortable {
 public:
  // Closes the connection's socket; its pending handlers then end it.
  virtual void Abort() = 0;

 protected:
  ~Abortable() = default;
};

class TcpListener : public std::enable_shared_from_this<TcpListener> {
 public:
  // Called with each accepted socket while fewer than max_connections are
  // registered. The callee registers the connection it makes (Add) for as
  // long as it lives, and unregisters it (Remove) when it ends.
  using AdmitFn = std::function<void(boost::asio::ip::tcp::socket)>;

  // Binds and listens on `at` (an IPv6 wildcard serves IPv4 clients too when
  // `dual_stack`). Error: "listen on <at>: <reason>". Nothing is accepted
  // before Run.
  static common::Result<std::shared_ptr<TcpListener>> Open(
      boost::asio::io_context& io, const common::AddrPort& at, bool dual_stack,
      const TcpListenerLimits& limits, const engine::Logger& log, AdmitFn admit);

  TcpListener(boost::asio::io_context& io, boost::asio::ip::tcp::acceptor acceptor,
              boost::asio::ip::tcp protocol, std::string listen, const TcpListenerLimits& limits,
              const engine::Logger& log, AdmitFn admit);
  TcpListener(const TcpListener&) = delete;
  TcpListener& operator=(const TcpListener&) = delete;

  // Starts accepting.
  void Run() { AcceptSome(); }
  // Closes the listening socket and aborts every registered connection; the
  // admit function is never called again.
  void Shutdown();
  bool active() const { return active_; }

  void Add(Abortable* c) { connections_.insert(c); }
  void Remove(Abortable* c) { connections_.erase(c); }
  std::size_t connections() const { return connections_.size(); }

 private:
  void AcceptSome();
  void WaitForClients();
  void PauseAccepting(const std::string& why);
  void Admit(int fd);

  static constexpr int kAcceptBatch = 32;

  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  boost::asio::ip::tcp protocol_;  // of the listener, and so of the connections
  boost::asio::steady_timer retry_;
  std::string listen_;
  TcpListenerLimits limits_;
  engine::Logger log_;
  AdmitFn admit_;
  std::unordered_set<Abortable*> connections_;  // each removes itself when it ends
  bool active_ = true;
  BurstWarning accept_warning_;
  BurstWarning limit_warning_;
};

// An Asio endpoint for `a`.
boost::asio::ip::tcp::endpoint ToTcpEndpoint(const common::AddrPort& a);
// "198.18.0.1:80", "[2001:db8::1]:80"
std::string EndpointText(const boost::asio::ip::tcp::endpoint& e);
// "<what>: <strerror>" for a system error, as Status::FromErrno.
common::Status ErrorStatus(std::string_view what, const boost::system::error_code& ec);

}  // namespace plugins::net
