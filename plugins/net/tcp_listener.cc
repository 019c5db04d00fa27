// The bounded TCP listener of the cold-target frontends (see the header).
// Moved out of static:http so that minecraft:server accepts clients the same
// way.
#include "plugins/net/tcp_listener.h"

#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <boost/asio/ip/v6_only.hpp>
#include <boost/asio/post.hpp>
#include <cerrno>
#include <string_view>
#include <utility>

#include "common/unique_fd.h"

namespace plugins::net {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using common::Status;

tcp::endpoint ToTcpEndpoint(const common::AddrPort& a) {
  if (a.address.is_v4()) {
    asio::ip::address_v4::bytes_type b;
    std::copy_n(a.address.data(), b.size(), b.begin());
    return {asio::ip::address_v4(b), a.port};
  }
  asio::ip::address_v6::bytes_type b;
  std::copy_n(a.address.data(), b.size(), b.begin());
  return {asio::ip::address_v6(b), a.port};
}

std::string EndpointText(const tcp::endpoint& e) {
  const auto a = e.address();
  std::string host = a.is_v6() ? "[" + a.to_string() + "]" : a.to_string();
  return host + ":" + std::to_string(e.port());
}

Status ErrorStatus(std::string_view what, const error_code& ec) {
  if (ec.category() == boost::system::system_category()) return Status::FromErrno(what, ec.value());
  return Status::IoError(std::string(what) + ": " + ec.message());
}

common::Result<std::shared_ptr<TcpListener>> TcpListener::Open(
    asio::io_context& io, const common::AddrPort& at, bool dual_stack,
    const TcpListenerLimits& limits, const engine::Logger& log, AdmitFn admit) {
  const std::string what = "listen on " + at.ToString();
  const bool v6 = at.address.is_v6();
  // Our own socket() for SOCK_CLOEXEC: a backend the engine spawns must not
  // inherit the listener and keep the port.
  common::UniqueFd fd(
      ::socket(v6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_TCP));
  if (!fd.valid()) return Status::FromErrno(what, errno);
  tcp::acceptor acceptor(io);
  error_code ec;
  const tcp protocol = v6 ? tcp::v6() : tcp::v4();
  acceptor.assign(protocol, fd.get(), ec);
  if (ec) return ErrorStatus(what, ec);
  fd.Release();  // the acceptor owns it now
  // [::] serves IPv4 clients too when dual-stack, and only IPv6 clients
  // otherwise, whatever net.ipv6.bindv6only says.
  if (v6) acceptor.set_option(asio::ip::v6_only(!dual_stack), ec);
  if (!ec) acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
  if (!ec) acceptor.bind(ToTcpEndpoint(at), ec);
  if (!ec) acceptor.listen(asio::socket_base::max_listen_connections, ec);
  if (ec) return ErrorStatus(what, ec);
  return std::make_shared<TcpListener>(io, std::move(acceptor), protocol, at.ToString(), limits,
                                       log, std::move(admit));
}

TcpListener::TcpListener(asio::io_context& io, tcp::acceptor acceptor, tcp protocol,
                         std::string listen, const TcpListenerLimits& limits,
                         const engine::Logger& log, AdmitFn admit)
    : io_(io),
      acceptor_(std::move(acceptor)),
      protocol_(protocol),
      retry_(io),
      listen_(std::move(listen)),
      limits_(limits),
      log_(log),
      admit_(std::move(admit)) {}

void TcpListener::Shutdown() {
  active_ = false;
  admit_ = nullptr;
  error_code ignored;
  acceptor_.close(ignored);
  retry_.cancel();
  // Abort may end a connection at once, which then removes itself.
  auto connections = connections_;
  for (Abortable* c : connections) c->Abort();
}

// accept4() rather than Asio's accept: the socket must be close-on-exec from
// the start (see Open). Drains the backlog until EAGAIN, then waits for the
// listener to be readable; the order matters, as Asio's epoll is
// edge-triggered. A full batch yields to other handlers first.
void TcpListener::AcceptSome() {
  for (int i = 0; i < kAcceptBatch && active_; ++i) {
    int fd = ::accept4(acceptor_.native_handle(), nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd >= 0) {
      Admit(fd);
      continue;
    }
    const int err = errno;
    switch (err) {
      case EAGAIN:
#if EWOULDBLOCK != EAGAIN
      case EWOULDBLOCK:
#endif
        WaitForClients();
        return;
      // The client is gone, or Linux passed on a network error of that
      // connection (accept(2)): the next one may be fine.
      case EINTR:
      case ECONNABORTED:
      case EPROTO:
      case EPERM:
      case ENETDOWN:
      case ENOPROTOOPT:
      case EHOSTDOWN:
      case ENONET:
      case EHOSTUNREACH:
      case EOPNOTSUPP:
      case ENETUNREACH:
        continue;
      default:  // EMFILE, ENFILE, ENOBUFS, ENOMEM: retrying at once would spin
        PauseAccepting(Status::FromErrno("accept", err).message());
        return;
    }
  }
  if (!active_) return;
  asio::post(io_, [self = shared_from_this()] {
    if (self->active_) self->AcceptSome();
  });
}

void TcpListener::WaitForClients() {
  acceptor_.async_wait(tcp::acceptor::wait_read, [self = shared_from_this()](error_code ec) {
    if (!self->active_ || ec == asio::error::operation_aborted) return;
    if (ec) {
      self->PauseAccepting(ErrorStatus("wait for clients", ec).message());
      return;
    }
    self->AcceptSome();
  });
}

void TcpListener::PauseAccepting(const std::string& why) {
  const std::string retry = std::to_string(limits_.accept_retry.count()) + "ms";
  if (accept_warning_.Fail()) {
    log_.Warn("cannot accept connections; retrying until it works",
              {{"listen", listen_}, {"error", why}, {"retry_every", retry}});
  } else {
    log_.Debug("cannot accept connections", {{"listen", listen_}, {"error", why}});
  }
  retry_.expires_after(limits_.accept_retry);
  retry_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec || !self->active_) return;
    self->AcceptSome();
  });
}

void TcpListener::Admit(int raw_fd) {
  common::UniqueFd fd(raw_fd);
  accept_warning_.End();
  if (connections_.size() >= limits_.max_connections) {
    // Closing at once (fd goes out of scope) frees the client to retry later.
    const std::string limit = std::to_string(limits_.max_connections);
    if (limit_warning_.Fail()) {
      log_.Warn("too many connections; closing new ones until some end",
                {{"listen", listen_}, {"limit", limit}});
    } else {
      log_.Debug("too many connections; closed a new one", {{"listen", listen_}});
    }
    return;
  }
  limit_warning_.End();
  tcp::socket socket(io_);
  error_code ec;
  socket.assign(protocol_, fd.get(), ec);
  if (ec) {
    log_.Debug("cannot take an accepted connection", {{"error", ec.message()}});
    return;
  }
  fd.Release();  // the socket owns it now
  // The admit function may shut this listener down (it can call into the
  // engine); keep it alive until it returns.
  AdmitFn admit = admit_;
  if (admit) admit(std::move(socket));
}

}  // namespace plugins::net
