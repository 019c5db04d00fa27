// The bounded HTTP/1.1 server of the plugins (see the header). Runs inside
// proxygw-engine, on the engine's event loop.
#include "plugins/net/http_server.h"

#include <algorithm>
#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/write.hpp>
#include <cstdio>
#include <ctime>
#include <limits>

#include "plugins/net/tcp_listener.h"

namespace plugins::net {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;
using boost::system::error_code;

// An IMF-fixdate ("Sun, 06 Nov 1994 08:49:37 GMT"), by hand: strftime's
// names follow the locale.
std::string HttpDate() {
  static constexpr const char* kDays[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
  static constexpr const char* kMonths[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                            "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};
  std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[40];
  int n = std::snprintf(buf, sizeof buf, "%s, %02d %s %04d %02d:%02d:%02d GMT", kDays[tm.tm_wday],
                        tm.tm_mday, kMonths[tm.tm_mon], tm.tm_year + 1900, tm.tm_hour, tm.tm_min,
                        tm.tm_sec);
  return std::string(buf, n > 0 ? static_cast<std::size_t>(n) : 0);
}

// Boost 1.74's Beast has its own string_view.
std::string_view Std(beast::string_view s) { return {s.data(), s.size()}; }
beast::string_view Beast(std::string_view s) { return {s.data(), s.size()}; }

// A request body that is counted against the parser's body_limit and dropped:
// no answer depends on it, and it is read only so that closing the
// connection does not reset it under the response.
struct DiscardBody {
  struct value_type {};
  struct reader {
    template <bool isRequest, class Fields>
    explicit reader(http::header<isRequest, Fields>&, value_type&) {}
    void init(const boost::optional<std::uint64_t>&, error_code& ec) { ec = {}; }
    template <class ConstBufferSequence>
    std::size_t put(const ConstBufferSequence& buffers, error_code& ec) {
      ec = {};
      return asio::buffer_size(buffers);
    }
    void finish(error_code& ec) { ec = {}; }
  };
};

// One client connection: read one request, answer it, linger, close. Kept
// alive by its pending handler; the socket closes when the last one ends.
class Connection : public std::enable_shared_from_this<Connection>, public Abortable {
 public:
  Connection(std::shared_ptr<HttpServer> server, tcp::socket socket)
      : server_(std::move(server)),
        stream_(std::move(socket)),
        buffer_(server_->limits().header_bytes + 4096) {
    server_->tcp().Add(this);
  }
  ~Connection() { server_->tcp().Remove(this); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void Run();
  void Abort() override { stream_.close(); }

 private:
  void OnRead(error_code ec);
  void Answer(HttpAnswer answer, bool head, unsigned version);
  void OnWritten(error_code ec);
  void Linger();
  void LogRequest(unsigned status) const;

  std::shared_ptr<HttpServer> server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request_parser<DiscardBody> parser_;
  std::string body_;  // what response_ points at
  http::response<http::span_body<const char>> response_;
  std::array<char, 1024> discard_{};
  std::uint64_t discarded_ = 0;
};

void Connection::Run() {
  const HttpLimits& limits = server_->limits();
  parser_.header_limit(static_cast<std::uint32_t>(
      std::min<std::size_t>(limits.header_bytes, std::numeric_limits<std::uint32_t>::max())));
  parser_.body_limit(limits.body_bytes);
  // One deadline for the whole request, so that a client sending a byte at a
  // time cannot hold the connection either.
  stream_.expires_after(limits.read_timeout);
  http::async_read(stream_, buffer_, parser_,
                   [self = shared_from_this()](error_code ec, std::size_t) { self->OnRead(ec); });
}

HttpAnswer Plain(unsigned status, std::string body) {
  HttpAnswer a;
  a.status = status;
  a.body = std::move(body);
  return a;
}

void Connection::OnRead(error_code ec) {
  HttpServer& s = *server_;
  if (!s.active()) return;
  if (ec == http::error::header_limit) {
    return Answer(Plain(431, "Request Header Fields Too Large\n"), false, 11);
  }
  if (ec == http::error::body_limit) return Answer(Plain(413, "Payload Too Large\n"), false, 11);
  if (ec) {
    // The client left, was too slow, or sent what is not HTTP: a client
    // that left gets nothing, a broken request a 400.
    const bool broken =
        ec.category() == http::make_error_code(http::error::bad_method).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message;
    if (s.log().DebugEnabled()) s.log().Debug("request not read", {{"error", ec.message()}});
    if (broken) return Answer(Plain(400, "Bad Request\n"), false, 11);
    return;
  }
  const auto& req = parser_.get();
  const bool head = req.method() == http::verb::head;
  const unsigned version = req.version() == 10 ? 10 : 11;
  // Respond may have shut the server down (it can call into the engine).
  std::optional<HttpAnswer> answer = s.Respond(HttpRequest{req.method(), Std(req.target())});
  if (!answer || !s.active()) return;
  Answer(std::move(*answer), head, version);
}

void Connection::Answer(HttpAnswer answer, bool head, unsigned version) {
  const unsigned status = answer.status;
  LogRequest(status);
  response_.version(version);
  response_.result(status);
  // Beast has no reason phrase for unregistered codes; Go's is this.
  if (http::obsolete_reason(http::int_to_status(status)) == "<unknown-status>") {
    response_.reason("status code " + std::to_string(status));
  }
  response_.set(http::field::date, HttpDate());
  response_.set(http::field::content_type, Beast(answer.content_type));
  response_.set(http::field::content_length, std::to_string(answer.body.size()));
  response_.set(http::field::cache_control, "no-store");
  response_.set(http::field::connection, "close");
  for (const auto& [name, value] : answer.headers) response_.set(Beast(name), Beast(value));
  body_ = std::move(answer.body);
  if (!head) response_.body() = {body_.data(), body_.size()};
  stream_.expires_after(server_->limits().write_timeout);
  http::async_write(stream_, response_, [self = shared_from_this()](error_code ec, std::size_t) {
    self->OnWritten(ec);
  });
}

void Connection::OnWritten(error_code ec) {
  if (ec || !server_->active()) return;
  // Send our FIN, then read until the client's: closing with unread bytes
  // (the rest of an oversized request, say) would reset the connection and
  // could destroy the response before the client read it.
  stream_.socket().shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return;
  stream_.expires_after(server_->limits().linger_timeout);
  Linger();
}

void Connection::Linger() {
  stream_.async_read_some(asio::buffer(discard_), [self = shared_from_this()](error_code ec,
                                                                              std::size_t n) {
    self->discarded_ += n;
    if (ec || !self->server_->active() || self->discarded_ > self->server_->limits().body_bytes) {
      return;
    }
    self->Linger();
  });
}

void Connection::LogRequest(unsigned status) const {
  const engine::Logger& log = server_->log();
  if (!log.DebugEnabled()) return;
  error_code ec;
  tcp::endpoint peer = stream_.socket().remote_endpoint(ec);
  const auto& req = parser_.get();
  log.Debug("request", {{"client", ec ? std::string("?") : EndpointText(peer)},
                        {"method", std::string(req.method_string())},
                        {"target", std::string(req.target().substr(0, 200))},
                        {"status", std::to_string(status)}});
}

}  // namespace

HttpServer::HttpServer(const HttpLimits& limits, const engine::Logger& log, HttpRespond respond)
    : limits_(limits), log_(log), respond_(std::move(respond)) {}

common::Result<std::shared_ptr<HttpServer>> HttpServer::Open(
    asio::io_context& io, const common::AddrPort& at, bool dual_stack, const HttpLimits& limits,
    const engine::Logger& log, HttpRespond respond) {
  auto server = std::make_shared<HttpServer>(limits, log, std::move(respond));
  TcpListenerLimits tcp_limits{limits.max_connections, limits.accept_retry};
  // The listener holds the server weakly: its owner and the connections own
  // it, not the other way round.
  std::weak_ptr<HttpServer> weak = server;
  auto listener = TcpListener::Open(io, at, dual_stack, tcp_limits, log, [weak](tcp::socket s) {
    if (auto self = weak.lock()) std::make_shared<Connection>(self, std::move(s))->Run();
  });
  if (!listener.ok()) return listener.status();
  server->tcp_ = std::move(*listener);
  server->tcp_->Run();
  return server;
}

void HttpServer::Shutdown() {
  respond_ = nullptr;
  tcp_->Shutdown();
}

bool HttpServer::active() const { return tcp_->active(); }

std::optional<HttpAnswer> HttpServer::Respond(const HttpRequest& req) {
  if (!active() || !respond_) return std::nullopt;
  // A copy: the call may shut this server down, which drops respond_.
  HttpRespond respond = respond_;
  return respond(req);
}

std::optional<std::string> TargetPath(std::string_view target) {
  std::string_view raw;
  if (!target.empty() && target[0] == '/') {
    raw = target;
  } else if (auto scheme = target.find("://"); scheme != std::string_view::npos && scheme > 0) {
    std::string_view rest = target.substr(scheme + 3);
    std::size_t slash = rest.find_first_of("/?#");
    raw = slash == std::string_view::npos || rest[slash] != '/' ? std::string_view("/")
                                                                : rest.substr(slash);
  } else {
    return std::nullopt;
  }
  raw = raw.substr(0, raw.find_first_of("?#"));
  std::string path;
  path.reserve(raw.size());
  for (std::size_t i = 0; i < raw.size(); ++i) {
    if (raw[i] != '%') {
      path += raw[i];
      continue;
    }
    auto hex = [](char c) -> int {
      if (c >= '0' && c <= '9') return c - '0';
      if (c >= 'a' && c <= 'f') return c - 'a' + 10;
      if (c >= 'A' && c <= 'F') return c - 'A' + 10;
      return -1;
    };
    if (i + 2 >= raw.size()) return std::nullopt;
    int hi = hex(raw[i + 1]);
    int lo = hex(raw[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    path += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return path;
}

}  // namespace plugins::net
