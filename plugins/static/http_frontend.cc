// static:http, the "starting" page of a cold target: proxygw-engine runs a
// small HTTP/1.1 server (Boost.Beast) on the frontend's listen address, on the
// engine's one event loop. Every request whose path matches the `endpoint`
// option gets the `content` page and asks for the target to be warmed; once
// the target is active, the kernel steers new connections to the backend and
// this server only sees what the DNAT rules leave it.
//
// Options (frontends[i].options), every key checked, errors located:
//   content       required string, the response body (may be empty)
//   endpoint      path the page answers, default "/". Matched as Go's
//                 ServeMux (the original's): "/" matches every path, a path
//                 ending in "/" its subtree, any other path only itself. The
//                 request path is percent-decoded before matching, as Go does;
//                 it is not cleaned ("/a/../b" is not "/b") and "/tree" is not
//                 redirected to "/tree/": both get 404.
//   content_type  default "text/plain; charset=utf-8"
//   status        HTTP status of the page, default 200 (the original's); 200 to
//                 599 except 204, 205 and 304, which cannot carry the content.
// The frontend's protocol must be tcp.
//
// Serving: one request per connection, answered with Connection: close and
// Cache-Control: no-store; HEAD gets the headers alone; any other method the
// full page. A path that does not match gets 404 and does not warm. Every
// connection is bounded (HttpLimits): header and body sizes (431 and 413),
// the time to receive the request and to send the response, a short linger
// after it, and the number of connections at once. Accept failures (EMFILE...)
// pause accepting briefly and are logged once per burst; requests are logged
// at DEBUG only (B21). Nothing throws across an Asio handler.
#include "plugins/static/http_frontend.h"

#include <algorithm>
#include <array>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http/error.hpp>
#include <boost/beast/http/message.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/read.hpp>
#include <boost/beast/http/span_body.hpp>
#include <boost/beast/http/status.hpp>
#include <boost/beast/http/write.hpp>
#include <chrono>
#include <cstdio>
#include <ctime>
#include <functional>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "plugins/net/tcp_listener.h"

namespace plugins::static_ns {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
namespace net = plugins::net;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using common::Status;

constexpr std::string_view kNeedsTcp = "static:http serves HTTP, which needs protocol tcp";

// What the options say the server answers.
struct Page {
  std::string content;
  std::string endpoint = "/";
  std::string content_type = "text/plain; charset=utf-8";
  unsigned status = 200;
};

// --- Options ----------------------------------------------------------------

bool HasControl(std::string_view s, bool allow_tab) {
  for (unsigned char c : s) {
    if ((c < 0x20 && !(allow_tab && c == '\t')) || c == 0x7f) return true;
  }
  return false;
}

void ReadEndpoint(config::ErrorSink& errors, const config::Fields& f, Page& page) {
  auto s = f.String(errors, "endpoint", /*required=*/false);
  if (!s) return;
  const config::Location at = config::LocationOf(f.Get("endpoint"));
  if ((*s)[0] != '/') {
    errors.Add(at, f.PathOf("endpoint"),
               "must be a path starting with \"/\", got \"" + s->substr(0, 64) + "\"");
    return;
  }
  // The endpoint is compared with the request's path alone, so a query or a
  // fragment in it could never match; spaces and controls cannot be in a path.
  if (HasControl(*s, /*allow_tab=*/false) || s->find_first_of(" ?#") != std::string::npos) {
    errors.Add(at, f.PathOf("endpoint"),
               "must be a URL path without spaces, control characters, \"?\" or \"#\"");
    return;
  }
  page.endpoint = *s;
}

void ReadContentType(config::ErrorSink& errors, const config::Fields& f, Page& page) {
  auto s = f.String(errors, "content_type", /*required=*/false);
  if (!s) return;
  // A line break would end the header and let the rest of the value be read
  // as headers of its own.
  if (HasControl(*s, /*allow_tab=*/true)) {
    errors.Add(config::LocationOf(f.Get("content_type")), f.PathOf("content_type"),
               "must not contain control characters such as line breaks");
    return;
  }
  page.content_type = *s;
}

void ReadStatus(config::ErrorSink& errors, const config::Fields& f, Page& page) {
  YAML::Node v = f.Get("status");
  if (!v.IsDefined()) return;
  std::optional<unsigned> code;
  if (config::ResolveScalar(v) == config::ScalarType::kInt) {
    const std::string& s = v.Scalar();
    if (s.size() == 3 && s.find_first_not_of("0123456789") == std::string::npos) {
      unsigned n = static_cast<unsigned>(std::stoul(s));
      // 1xx are not final answers; 204, 205 and 304 must not carry content.
      if (n >= 200 && n <= 599 && n != 204 && n != 205 && n != 304) code = n;
    }
  }
  if (!code) {
    errors.Add(v.IsNull() ? f.KeyLocation("status") : config::LocationOf(v), f.PathOf("status"),
               "expected an HTTP status from 200 to 599 other than 204, 205 and 304, got " +
                   config::DescribeNode(v));
    return;
  }
  page.status = *code;
}

// The page `f` asks for, or nullopt having reported every problem.
std::optional<Page> ReadOptions(const config::Frontend& f, config::ErrorSink& errors) {
  const std::size_t before = errors.count();
  if (f.protocol != config::Protocol::kTcp) errors.Add(f.location, f.path, std::string(kNeedsTcp));
  // The loader leaves a null node when the frontend has no options.
  YAML::Node node = f.options.node.IsDefined() ? f.options.node : YAML::Node();
  auto fields = config::Fields::Read(errors, node, f.options.path, f.options.location,
                                     {"content", "endpoint", "content_type", "status"},
                                     /*null_is_empty=*/true);
  if (!fields) return std::nullopt;
  Page page;
  if (auto s = fields->String(errors, "content", /*required=*/true, /*allow_empty=*/true)) {
    page.content = std::move(*s);
  }
  ReadEndpoint(errors, *fields, page);
  ReadContentType(errors, *fields, page);
  ReadStatus(errors, *fields, page);
  if (errors.count() != before) return std::nullopt;
  return page;
}

// --- Requests ---------------------------------------------------------------

// The path of a request target, percent-decoded: "/a%20b?q" gives "/a b",
// the absolute form "http://host/a?q" gives "/a" ("/" when it has none).
// nullopt for the forms without a path ("*", "host:443") and bad escapes.
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

// Go's ServeMux rule for a pattern without a host.
bool PathMatches(std::string_view endpoint, std::string_view path) {
  if (endpoint.back() == '/') return path.substr(0, endpoint.size()) == endpoint;
  return path == endpoint;
}

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
// the page does not depend on it, and it is read only so that closing the
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

// --- Serving ----------------------------------------------------------------

// One listening socket and its connections, from one Start to the next Stop:
// what every connection needs to answer, and the shared TCP listener that
// bounds them. Shared with every pending handler, so that it outlives the
// frontend when handlers are still queued; after Shutdown they find it
// inactive and return.
class Server {
 public:
  Server(std::shared_ptr<const Page> page, const HttpLimits& limits, const engine::Logger& log,
         std::function<void()> warm)
      : page_(std::move(page)), limits_(limits), log_(log), warm_(std::move(warm)) {}

  // Opens the listener; its connections start when they are accepted.
  static common::Result<std::shared_ptr<Server>> Open(asio::io_context& io,
                                                      const common::AddrPort& at, bool dual_stack,
                                                      std::shared_ptr<const Page> page,
                                                      const HttpLimits& limits,
                                                      const engine::Logger& log,
                                                      std::function<void()> warm);

  // Closes the listening socket and every connection at once; nothing of
  // this server calls out (warm, log) afterwards.
  void Shutdown() { tcp_->Shutdown(); }

  bool active() const { return tcp_->active(); }
  net::TcpListener& tcp() { return *tcp_; }
  const Page& page() const { return *page_; }
  const HttpLimits& limits() const { return limits_; }
  const engine::Logger& log() const { return log_; }
  void Warm() {
    if (active() && warm_) warm_();
  }

 private:
  std::shared_ptr<const Page> page_;
  HttpLimits limits_;
  engine::Logger log_;
  std::function<void()> warm_;
  std::shared_ptr<net::TcpListener> tcp_;
};

// One client connection: read one request, answer it, linger, close. Kept
// alive by its pending handler; the socket closes when the last one ends.
class Connection : public std::enable_shared_from_this<Connection>, public net::Abortable {
 public:
  Connection(std::shared_ptr<Server> server, tcp::socket socket)
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
  void Answer(unsigned status, std::string_view content_type, std::string_view body, bool head,
              unsigned version);
  void OnWritten(error_code ec);
  void Linger();
  void LogRequest(unsigned status) const;

  std::shared_ptr<Server> server_;
  beast::tcp_stream stream_;
  beast::flat_buffer buffer_;
  http::request_parser<DiscardBody> parser_;
  http::response<http::span_body<const char>> response_;
  std::array<char, 1024> discard_{};
  std::uint64_t discarded_ = 0;
};

common::Result<std::shared_ptr<Server>> Server::Open(asio::io_context& io,
                                                     const common::AddrPort& at, bool dual_stack,
                                                     std::shared_ptr<const Page> page,
                                                     const HttpLimits& limits,
                                                     const engine::Logger& log,
                                                     std::function<void()> warm) {
  auto server = std::make_shared<Server>(std::move(page), limits, log, std::move(warm));
  net::TcpListenerLimits tcp_limits{limits.max_connections, limits.accept_retry};
  // The listener holds the server weakly: the handler and the connections
  // own it, not the other way round.
  std::weak_ptr<Server> weak = server;
  auto listener =
      net::TcpListener::Open(io, at, dual_stack, tcp_limits, log, [weak](tcp::socket s) {
        if (auto self = weak.lock()) std::make_shared<Connection>(self, std::move(s))->Run();
      });
  if (!listener.ok()) return listener.status();
  server->tcp_ = std::move(*listener);
  server->tcp_->Run();
  return server;
}

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

void Connection::OnRead(error_code ec) {
  Server& l = *server_;
  if (!l.active()) return;
  if (ec == http::error::header_limit) {
    return Answer(431, "text/plain; charset=utf-8", "Request Header Fields Too Large\n", false, 11);
  }
  if (ec == http::error::body_limit) {
    return Answer(413, "text/plain; charset=utf-8", "Payload Too Large\n", false, 11);
  }
  if (ec) {
    // The client left, was too slow, or sent what is not HTTP: a client
    // that left gets nothing, a broken request a 400.
    const bool broken =
        ec.category() == http::make_error_code(http::error::bad_method).category() &&
        ec != http::error::end_of_stream && ec != http::error::partial_message;
    if (l.log().DebugEnabled()) {
      l.log().Debug("request not read", {{"error", ec.message()}});
    }
    if (broken) return Answer(400, "text/plain; charset=utf-8", "Bad Request\n", false, 11);
    return;
  }
  const auto& req = parser_.get();
  const Page& page = l.page();
  const bool head = req.method() == http::verb::head;
  const unsigned version = req.version() == 10 ? 10 : 11;
  auto path = TargetPath(Std(req.target()));
  if (!path || !PathMatches(page.endpoint, *path)) {
    return Answer(404, "text/plain; charset=utf-8", "404 page not found\n", head, version);
  }
  l.Warm();
  // Warm may have stopped this frontend (it calls into the engine).
  if (!l.active()) return;
  Answer(page.status, page.content_type, page.content, head, version);
}

void Connection::Answer(unsigned status, std::string_view content_type, std::string_view body,
                        bool head, unsigned version) {
  LogRequest(status);
  response_.version(version);
  response_.result(status);
  // Beast has no reason phrase for unregistered codes; Go's is this.
  if (http::obsolete_reason(http::int_to_status(status)) == "<unknown-status>") {
    response_.reason("status code " + std::to_string(status));
  }
  response_.set(http::field::date, HttpDate());
  response_.set(http::field::content_type, Beast(content_type));
  response_.set(http::field::content_length, std::to_string(body.size()));
  response_.set(http::field::cache_control, "no-store");
  response_.set(http::field::connection, "close");
  if (status == 404) response_.set("X-Content-Type-Options", "nosniff");
  if (!head) response_.body() = {body.data(), body.size()};
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
  stream_.async_read_some(asio::buffer(discard_),
                          [self = shared_from_this()](error_code ec, std::size_t n) {
                            self->discarded_ += n;
                            if (ec || !self->server_->active() ||
                                self->discarded_ > self->server_->limits().body_bytes) {
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
  log.Debug("request", {{"client", ec ? std::string("?") : net::EndpointText(peer)},
                        {"method", std::string(req.method_string())},
                        {"target", std::string(req.target().substr(0, 200))},
                        {"status", std::to_string(status)}});
}

// --- The handler ------------------------------------------------------------

class HttpFrontend final : public engine::FrontendHandler {
 public:
  HttpFrontend(const engine::FrontendContext& ctx, Page page, const HttpLimits& limits)
      : io_(ctx.io),
        listen_(ctx.config.listen),
        dual_stack_(ctx.config.DualStack()),
        page_(std::make_shared<const Page>(std::move(page))),
        limits_(limits),
        log_(ctx.log),
        warm_(ctx.warm) {}
  ~HttpFrontend() override { Close(); }

  // Opens the listener synchronously; Done follows through the loop. Start
  // while serving is ok, and does nothing.
  void Start(engine::Done done) override {
    if (closed_) return;
    if (!server_) {
      auto l = Server::Open(io_, listen_, dual_stack_, page_, limits_, log_, warm_);
      if (!l.ok()) return Finish(std::move(done), l.status());
      server_ = std::move(*l);
      log_.Debug("serving HTTP", {{"listen", listen_.ToString()}});
    }
    Finish(std::move(done), Status::Ok());
  }

  // Never fails; Stop while stopped is ok.
  void Stop(engine::Done done) override {
    if (closed_) return;
    StopServing();
    Finish(std::move(done), Status::Ok());
  }

  // Start and Stop after Close do nothing and call nothing back.
  void Close() override {
    StopServing();
    closed_ = true;
    alive_.reset();
  }

 private:
  void StopServing() {
    if (!server_) return;
    server_->Shutdown();
    server_.reset();
    log_.Debug("stopped serving HTTP", {{"listen", listen_.ToString()}});
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
  std::shared_ptr<const Page> page_;
  HttpLimits limits_;
  engine::Logger log_;
  std::function<void()> warm_;
  std::shared_ptr<Server> server_;  // set while serving
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool closed_ = false;
};

}  // namespace

std::unique_ptr<engine::FrontendHandler> NewHttpFrontendWithLimits(
    const engine::FrontendContext& ctx, config::ErrorSink& errors, const HttpLimits& limits) {
  auto page = ReadOptions(ctx.config, errors);
  if (!page) return nullptr;
  return std::make_unique<HttpFrontend>(ctx, std::move(*page), limits);
}

std::unique_ptr<engine::FrontendHandler> NewHttpFrontend(const engine::FrontendContext& ctx,
                                                         config::ErrorSink& errors) {
  return NewHttpFrontendWithLimits(ctx, errors, HttpLimits{});
}

}  // namespace plugins::static_ns
