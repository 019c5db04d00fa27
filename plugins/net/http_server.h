// HttpServer: the bounded HTTP/1.1 server of the plugins that answer HTTP on
// the engine's one event loop (static:http's page, the metrics endpoint).
// Moved out of static:http so that both parse and bound requests the same way
// (Boost.Beast's parser): one request per connection, answered with
// Connection: close and Cache-Control: no-store; HEAD gets the headers
// alone. Every connection is bounded (HttpLimits): header and body sizes
// (431 and 413), the time to receive the request and to send the response, a
// short linger after it, and the number of connections at once (the shared
// TcpListener). A request that is not HTTP gets 400. What a request is
// answered is the owner's business (HttpRespond). Requests are logged at
// DEBUG only. Nothing throws across an Asio handler.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/beast/http/verb.hpp>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "common/net_address.h"
#include "common/status.h"
#include "proxygw-engine/log.h"

namespace plugins::net {

class TcpListener;

// The bounds every HTTP server of a plugin keeps; tests shorten them.
struct HttpLimits {
  std::size_t header_bytes = 8 * 1024;              // request line and headers; over: 431
  std::uint64_t body_bytes = 64 * 1024;             // request body, read and discarded; over: 413
  std::chrono::milliseconds read_timeout{10'000};   // to receive a whole request
  std::chrono::milliseconds write_timeout{10'000};  // to send the response
  std::chrono::milliseconds linger_timeout{2'000};  // to see the client close after it
  std::size_t max_connections = 256;                // more are closed when accepted
  std::chrono::milliseconds accept_retry{100};      // pause after EMFILE and the like
};

// A request, read whole (its body discarded). Valid during the call only.
struct HttpRequest {
  boost::beast::http::verb method;
  std::string_view target;  // as sent: "/a%20b?q", "http://host/a", "*"
};

struct HttpAnswer {
  unsigned status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;  // left out for HEAD; Content-Length still says its size
  std::vector<std::pair<std::string, std::string>> headers;  // more headers ("Allow")
};

// Answers a request; called on the loop. It may shut the server down (it may
// call into the engine); nothing is sent then.
using HttpRespond = std::function<HttpAnswer(const HttpRequest&)>;

class HttpServer {
 public:
  // Opens the listener on `at` (an IPv6 wildcard serves IPv4 clients too when
  // `dual_stack`) and starts accepting. Error: "listen on <at>: <reason>".
  static common::Result<std::shared_ptr<HttpServer>> Open(boost::asio::io_context& io,
                                                          const common::AddrPort& at,
                                                          bool dual_stack, const HttpLimits& limits,
                                                          const engine::Logger& log,
                                                          HttpRespond respond);

  HttpServer(const HttpLimits& limits, const engine::Logger& log, HttpRespond respond);
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Closes the listening socket and every connection at once; `respond` is
  // never called again, nor is anything logged.
  void Shutdown();
  bool active() const;

  // For its connections.
  TcpListener& tcp() { return *tcp_; }
  const HttpLimits& limits() const { return limits_; }
  const engine::Logger& log() const { return log_; }
  // The answer to `req`, or nullopt once shut down.
  std::optional<HttpAnswer> Respond(const HttpRequest& req);

 private:
  HttpLimits limits_;
  engine::Logger log_;
  HttpRespond respond_;
  std::shared_ptr<TcpListener> tcp_;
};

// The path of a request target, percent-decoded: "/a%20b?q" gives "/a b",
// the absolute form "http://host/a?q" gives "/a" ("/" when it has none).
// nullopt for the forms without a path ("*", "host:443") and bad escapes.
std::optional<std::string> TargetPath(std::string_view target);

}  // namespace plugins::net
