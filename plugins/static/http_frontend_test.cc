// static:http: option errors pinned exactly with their locations (configs
// loaded from YAML text, as the engine loads them), and real HTTP over
// loopback with a plain socket client while the event loop runs in the test
// thread. Bounds are generous; nothing asserts on a fixed sleep.
#include "plugins/static/http_frontend.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <functional>
#include <map>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "common/unique_fd.h"
#include "proxygw-engine/config/loader.h"

namespace plugins::static_ns {
namespace {

using namespace std::chrono_literals;
using common::Status;
using common::UniqueFd;
using Clock = std::chrono::steady_clock;

// Lines 1-14. The frontend starts on line 12 (column 5); each test adds
// `listen` on line 15, `target` on 16 and its options from line 17.
constexpr char kHead[] =
    "version: v1\n"
    "log: {output: stderr}\n"
    "plugins: {static: {}}\n"
    "targets:\n"
    "  - name: backend\n"
    "    kind: static:none\n"
    "    idle_timeout: 300s\n"
    "    endpoints:\n"
    "      - {name: http, protocol: tcp, addresses: [\"198.18.0.2:8080\", "
    "\"[2001:db8::2]:8080\"]}\n"
    "      - {name: game, protocol: udp, addresses: [\"198.18.0.2:9000\", "
    "\"[2001:db8::2]:9000\"]}\n"
    "frontends:\n"
    "  - name: page\n"
    "    kind: static:http\n"
    "    flow_timeout: 60s\n";

std::string Yaml(const std::string& listen, const std::string& rest) {
  return std::string(kHead) + "    listen: \"" + listen + "\"\n" + rest;
}

config::Config Load(const std::string& yaml) {
  config::LoadResult r = config::LoadConfigString(yaml, "t.yaml");
  EXPECT_TRUE(r.ok()) << r.ErrorText();
  return r.config.value_or(config::Config{});
}

// The errors of building a static:http frontend from `rest` (target line and
// options), one "file:line:col: path: message" each.
std::vector<std::string> OptionErrors(const std::string& rest) {
  config::Config c = Load(Yaml("127.0.0.1:8080", rest));
  if (c.frontends.empty()) return {"no frontend loaded"};
  boost::asio::io_context io;
  std::vector<config::ConfigError> errors;
  config::ErrorSink sink("t.yaml", &errors);
  auto handler = NewHttpFrontend({io, c.frontends[0], engine::Logger(), [] {}}, sink);
  std::vector<std::string> out;
  for (const auto& e : errors) out.push_back(e.ToString());
  EXPECT_EQ(handler == nullptr, !out.empty());
  return out;
}

using Lines = std::vector<std::string>;

// --- Options ------------------------------------------------------------------

TEST(HttpFrontendOptions, ContentAloneIsEnough) {
  EXPECT_EQ(OptionErrors("    target: backend:http\n"
                         "    options: {content: \"starting\\n\"}\n"),
            Lines{});
  EXPECT_EQ(OptionErrors("    target: backend:http\n"
                         "    options: {content: \"\"}\n"),
            Lines{});
}

TEST(HttpFrontendOptions, EveryOptionAccepted) {
  EXPECT_EQ(OptionErrors("    target: backend:http\n"
                         "    options:\n"
                         "      content: <p>starting</p>\n"
                         "      endpoint: /wake/\n"
                         "      content_type: text/html; charset=utf-8\n"
                         "      status: 503\n"),
            Lines{});
}

TEST(HttpFrontendOptions, MissingOptionsMeansMissingContent) {
  EXPECT_EQ(OptionErrors("    target: backend:http\n"),
            Lines{"t.yaml:12:5: frontends[0].options.content: required field is missing"});
  EXPECT_EQ(OptionErrors("    target: backend:http\n"
                         "    options:\n"),
            Lines{"t.yaml:17:5: frontends[0].options.content: required field is missing"});
  EXPECT_EQ(OptionErrors("    target: backend:http\n"
                         "    options: {endpoint: /}\n"),
            Lines{"t.yaml:17:14: frontends[0].options.content: required field is missing"});
}

TEST(HttpFrontendOptions, ContentMustBeAString) {
  EXPECT_EQ(OptionErrors("    target: backend:http\n"
                         "    options:\n"
                         "      content: 42\n"),
            Lines{"t.yaml:18:16: frontends[0].options.content: expected a string, got the number "
                  "42 (quote it to use it as text)"});
  EXPECT_EQ(OptionErrors("    target: backend:http\n"
                         "    options:\n"
                         "      content: [a]\n"),
            Lines{"t.yaml:18:16: frontends[0].options.content: expected a string, got a list"});
}

TEST(HttpFrontendOptions, UnknownKeyIsAnError) {
  EXPECT_EQ(OptionErrors("    target: backend:http\n"
                         "    options:\n"
                         "      content: x\n"
                         "      contnet_type: text/html\n"),
            Lines{"t.yaml:19:7: frontends[0].options: unknown key \"contnet_type\" (did you mean "
                  "\"content_type\"?)"});
  EXPECT_EQ(OptionErrors("    target: backend:http\n"
                         "    options:\n"
                         "      content: x\n"
                         "      port: 80\n"),
            Lines{"t.yaml:19:7: frontends[0].options: unknown key \"port\" (expected one of: "
                  "content, endpoint, content_type, status)"});
}

TEST(HttpFrontendOptions, EndpointMustBeAPath) {
  EXPECT_EQ(OptionErrors("    target: backend:http\n"
                         "    options:\n"
                         "      content: x\n"
                         "      endpoint: wake\n"),
            Lines{"t.yaml:19:17: frontends[0].options.endpoint: must be a path starting with "
                  "\"/\", got \"wake\""});
  EXPECT_EQ(OptionErrors("    target: backend:http\n"
                         "    options:\n"
                         "      content: x\n"
                         "      endpoint: \"\"\n"),
            Lines{"t.yaml:19:17: frontends[0].options.endpoint: must not be empty"});
  EXPECT_EQ(OptionErrors("    target: backend:http\n"
                         "    options:\n"
                         "      content: x\n"
                         "      endpoint: /wake?now\n"),
            Lines{"t.yaml:19:17: frontends[0].options.endpoint: must be a URL path without "
                  "spaces, control characters, \"?\" or \"#\""});
  EXPECT_EQ(OptionErrors("    target: backend:http\n"
                         "    options:\n"
                         "      content: x\n"
                         "      endpoint: \"/a b\"\n"),
            Lines{"t.yaml:19:17: frontends[0].options.endpoint: must be a URL path without "
                  "spaces, control characters, \"?\" or \"#\""});
  EXPECT_EQ(OptionErrors("    target: backend:http\n"
                         "    options:\n"
                         "      content: x\n"
                         "      endpoint: 1\n"),
            Lines{"t.yaml:19:17: frontends[0].options.endpoint: expected a string, got the "
                  "number 1 (quote it to use it as text)"});
}

TEST(HttpFrontendOptions, ContentTypeMustBeOneHeaderLine) {
  EXPECT_EQ(OptionErrors("    target: backend:http\n"
                         "    options:\n"
                         "      content: x\n"
                         "      content_type: \"text/html\\r\\nSet-Cookie: a=b\"\n"),
            Lines{"t.yaml:19:21: frontends[0].options.content_type: must not contain control "
                  "characters such as line breaks"});
  EXPECT_EQ(OptionErrors("    target: backend:http\n"
                         "    options:\n"
                         "      content: x\n"
                         "      content_type: \"\"\n"),
            Lines{"t.yaml:19:21: frontends[0].options.content_type: must not be empty"});
}

TEST(HttpFrontendOptions, StatusMustBeAStatusWithContent) {
  const std::string head =
      "    target: backend:http\n"
      "    options:\n"
      "      content: x\n";
  const std::string msg =
      "t.yaml:19:15: frontends[0].options.status: expected an HTTP status from 200 to 599 other "
      "than 204, 205 and 304, got ";
  EXPECT_EQ(OptionErrors(head + "      status: 200\n"), Lines{});
  EXPECT_EQ(OptionErrors(head + "      status: 599\n"), Lines{});
  EXPECT_EQ(OptionErrors(head + "      status: \"503\"\n"), Lines{msg + "the string \"503\""});
  EXPECT_EQ(OptionErrors(head + "      status: 100\n"), Lines{msg + "the number 100"});
  EXPECT_EQ(OptionErrors(head + "      status: 199\n"), Lines{msg + "the number 199"});
  EXPECT_EQ(OptionErrors(head + "      status: 204\n"), Lines{msg + "the number 204"});
  EXPECT_EQ(OptionErrors(head + "      status: 205\n"), Lines{msg + "the number 205"});
  EXPECT_EQ(OptionErrors(head + "      status: 304\n"), Lines{msg + "the number 304"});
  EXPECT_EQ(OptionErrors(head + "      status: 600\n"), Lines{msg + "the number 600"});
  EXPECT_EQ(OptionErrors(head + "      status: 0x1F7\n"), Lines{msg + "the number 0x1F7"});
  EXPECT_EQ(OptionErrors(head + "      status: 503.0\n"), Lines{msg + "the number 503.0"});
  EXPECT_EQ(OptionErrors(head + "      status: -503\n"), Lines{msg + "the number -503"});
  EXPECT_EQ(OptionErrors(head + "      status: true\n"), Lines{msg + "the boolean true"});
  EXPECT_EQ(OptionErrors(head + "      status:\n"),
            Lines{"t.yaml:19:7: frontends[0].options.status: expected an HTTP status from 200 to "
                  "599 other than 204, 205 and 304, got null"});
}

TEST(HttpFrontendOptions, NeedsProtocolTcp) {
  EXPECT_EQ(OptionErrors("    target: backend:game\n"
                         "    options: {content: x}\n"),
            Lines{"t.yaml:12:5: frontends[0]: static:http serves HTTP, which needs protocol tcp"});
}

TEST(HttpFrontendOptions, EveryErrorReportedAtOnce) {
  EXPECT_EQ(OptionErrors("    target: backend:game\n"
                         "    options:\n"
                         "      endpoint: wake\n"
                         "      status: 42\n"
                         "      colour: red\n"),
            (Lines{
                "t.yaml:12:5: frontends[0]: static:http serves HTTP, which needs protocol tcp",
                "t.yaml:20:7: frontends[0].options: unknown key \"colour\" (expected one of: "
                "content, endpoint, content_type, status)",
                "t.yaml:18:7: frontends[0].options.content: required field is missing",
                "t.yaml:18:17: frontends[0].options.endpoint: must be a path starting with "
                "\"/\", got \"wake\"",
                "t.yaml:19:15: frontends[0].options.status: expected an HTTP status from 200 to "
                "599 other than 204, 205 and 304, got the number 42",
            }));
}

// --- Sockets and the loop -----------------------------------------------------

// Runs the loop until `done()` or `bound` passes. True when done.
template <class Pred>
bool Pump(boost::asio::io_context& io, Pred done, std::chrono::milliseconds bound = 10s) {
  const auto deadline = Clock::now() + bound;
  while (!done()) {
    if (Clock::now() >= deadline) return false;
    if (io.stopped()) io.restart();
    if (io.run_for(2ms) == 0) std::this_thread::sleep_for(1ms);
  }
  return true;
}

// Runs the loop for `d` (to let things happen that the test then checks did
// not happen, or happened once).
void PumpFor(boost::asio::io_context& io, std::chrono::milliseconds d) {
  Pump(
      io, [] { return false; }, d);
}

bool Ipv6Loopback() {
  UniqueFd fd(::socket(AF_INET6, SOCK_STREAM, 0));
  if (!fd.valid()) return false;
  sockaddr_in6 a{};
  a.sin6_family = AF_INET6;
  a.sin6_addr = in6addr_loopback;
  return ::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) == 0;
}

sockaddr_storage Address(const std::string& ip, std::uint16_t port, socklen_t* len) {
  sockaddr_storage ss{};
  if (ip.find(':') == std::string::npos) {
    auto* a = reinterpret_cast<sockaddr_in*>(&ss);
    a->sin_family = AF_INET;
    a->sin_port = htons(port);
    EXPECT_EQ(::inet_pton(AF_INET, ip.c_str(), &a->sin_addr), 1) << ip;
    *len = sizeof *a;
  } else {
    auto* a = reinterpret_cast<sockaddr_in6*>(&ss);
    a->sin6_family = AF_INET6;
    a->sin6_port = htons(port);
    EXPECT_EQ(::inet_pton(AF_INET6, ip.c_str(), &a->sin6_addr), 1) << ip;
    *len = sizeof *a;
  }
  return ss;
}

// A port that nothing listens on right now: the kernel's pick for `ip`
// (for "::", dual-stack, so the port is free in both families).
std::uint16_t FreePort(const std::string& ip) {
  socklen_t len = 0;
  sockaddr_storage ss = Address(ip, 0, &len);
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM, 0));
  int off = 0;
  if (ss.ss_family == AF_INET6) ::setsockopt(fd.get(), IPPROTO_IPV6, IPV6_V6ONLY, &off, sizeof off);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&ss), len), 0) << std::strerror(errno);
  EXPECT_EQ(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&ss), &len), 0);
  return ntohs(ss.ss_family == AF_INET ? reinterpret_cast<sockaddr_in*>(&ss)->sin_port
                                       : reinterpret_cast<sockaddr_in6*>(&ss)->sin6_port);
}

// A blocking connect: on loopback it completes in the kernel's backlog, before
// the server accepts. Invalid fd (errno set) on failure.
UniqueFd Connect(const std::string& ip, std::uint16_t port) {
  socklen_t len = 0;
  sockaddr_storage ss = Address(ip, port, &len);
  UniqueFd fd(::socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&ss), len) != 0) {
    int err = errno;
    fd.Reset();
    errno = err;
  }
  return fd;
}

bool SendAll(int fd, std::string_view data) {
  while (!data.empty()) {
    ssize_t n = ::send(fd, data.data(), data.size(), MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    data.remove_prefix(static_cast<std::size_t>(n));
  }
  return true;
}

struct Received {
  std::string bytes;
  bool closed = false;  // EOF or reset seen
  bool reset = false;
};

// What the server sends on `fd` until it closes, running the loop meanwhile.
Received ReadUntilClosed(boost::asio::io_context& io, int fd,
                         std::chrono::milliseconds bound = 10s) {
  Received r;
  Pump(
      io,
      [&] {
        char buf[4096];
        for (;;) {
          ssize_t n = ::recv(fd, buf, sizeof buf, MSG_DONTWAIT);
          if (n > 0) {
            r.bytes.append(buf, static_cast<std::size_t>(n));
            continue;
          }
          if (n == 0) return r.closed = true;
          if (errno == EINTR) continue;
          if (errno == EAGAIN || errno == EWOULDBLOCK) return false;
          r.reset = true;
          return r.closed = true;
        }
      },
      bound);
  return r;
}

// True when the server has neither sent anything on `fd` nor closed it.
bool StillOpen(int fd) {
  char c;
  return ::recv(fd, &c, 1, MSG_DONTWAIT | MSG_PEEK) < 0 &&
         (errno == EAGAIN || errno == EWOULDBLOCK);
}

struct Response {
  std::string status_line;
  std::map<std::string, std::string> headers;  // names in lower case
  std::string body;
};

std::optional<Response> Parse(const std::string& bytes) {
  std::size_t end = bytes.find("\r\n\r\n");
  if (end == std::string::npos) return std::nullopt;
  Response r;
  std::istringstream in(bytes.substr(0, end + 2));
  std::string line;
  std::getline(in, r.status_line);
  if (!r.status_line.empty() && r.status_line.back() == '\r') r.status_line.pop_back();
  while (std::getline(in, line)) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::size_t colon = line.find(':');
    if (colon == std::string::npos) return std::nullopt;
    std::string name = line.substr(0, colon);
    for (char& c : name) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    std::size_t v = line.find_first_not_of(' ', colon + 1);
    r.headers[name] = v == std::string::npos ? "" : line.substr(v);
  }
  r.body = bytes.substr(end + 4);
  return r;
}

std::string Get(const std::string& target, const std::string& method = "GET") {
  return method + " " + target + " HTTP/1.1\r\nHost: gateway\r\nUser-Agent: test\r\n\r\n";
}

// A static:http frontend on a real socket, with the loop in the test thread.
class HttpServe : public ::testing::Test {
 protected:
  void TearDown() override {
    // Every request for the page is counted as a knock (metrics) and warms.
    EXPECT_EQ(knocks_, warms_);
    if (handler_) handler_->Close();
    (void)engine::SetUpLogging("stderr", config::LogLevel::kInfo);
  }

  void Build(const std::string& listen, const std::string& options,
             const HttpLimits& limits = HttpLimits{}) {
    config_ = Load(Yaml(listen, "    target: backend:http\n    options:\n" + options));
    ASSERT_EQ(config_->frontends.size(), 1u);
    std::vector<config::ConfigError> errors;
    config::ErrorSink sink("t.yaml", &errors);
    // A context that dies here: the handler must copy what it keeps.
    handler_ = NewHttpFrontendWithLimits(
        {io_, config_->frontends[0], engine::Logger().With({{"frontend", "page"}}),
         [this] {
           ++warms_;
           if (on_warm_) on_warm_();
         },
         [this] { ++knocks_; }},
        sink, limits);
    ASSERT_NE(handler_, nullptr);
    ASSERT_TRUE(errors.empty());
  }

  Status Start() {
    std::optional<Status> got;
    handler_->Start([&](Status s) { got = std::move(s); });
    EXPECT_FALSE(got.has_value()) << "Done ran inside Start";
    if (!Pump(io_, [&] { return got.has_value(); }))
      return Status::Internal("Start never finished");
    return *got;
  }

  Status Stop() {
    std::optional<Status> got;
    handler_->Stop([&](Status s) { got = std::move(s); });
    EXPECT_FALSE(got.has_value()) << "Done ran inside Stop";
    if (!Pump(io_, [&] { return got.has_value(); })) return Status::Internal("Stop never finished");
    return *got;
  }

  // Sends `request` on a new connection and returns all the server sent.
  Received Exchange(const std::string& ip, std::uint16_t port, const std::string& request) {
    UniqueFd fd = Connect(ip, port);
    if (!fd.valid()) return {"connect: " + std::string(std::strerror(errno)), true, true};
    EXPECT_TRUE(SendAll(fd.get(), request));
    return ReadUntilClosed(io_, fd.get());
  }

  // The parsed response to `request`; a failed expectation when there is none.
  Response Fetch(const std::string& ip, std::uint16_t port, const std::string& request) {
    Received got = Exchange(ip, port, request);
    EXPECT_TRUE(got.closed && !got.reset) << got.bytes;
    auto r = Parse(got.bytes);
    EXPECT_TRUE(r.has_value()) << got.bytes;
    return r.value_or(Response{});
  }

  boost::asio::io_context io_;
  std::optional<config::Config> config_;
  std::unique_ptr<engine::FrontendHandler> handler_;
  int warms_ = 0;
  int knocks_ = 0;
  std::function<void()> on_warm_;  // runs inside warm
};

// --- Serving ------------------------------------------------------------------

TEST_F(HttpServe, ServesThePageAndWarmsOncePerRequest) {
  const std::uint16_t port = FreePort("127.0.0.1");
  Build("127.0.0.1:" + std::to_string(port), "      content: \"starting, reload soon\\n\"\n");
  ASSERT_TRUE(Start().ok());
  Response r = Fetch("127.0.0.1", port, Get("/"));
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r.body, "starting, reload soon\n");
  EXPECT_EQ(r.headers["content-type"], "text/plain; charset=utf-8");
  EXPECT_EQ(r.headers["content-length"], "22");
  EXPECT_EQ(r.headers["cache-control"], "no-store");
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_TRUE(r.headers.count("date"));
  EXPECT_EQ(warms_, 1);

  // Any path and any method: "/" matches everything.
  r = Fetch("127.0.0.1", port, Get("/some/where?x=1", "POST"));
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r.body, "starting, reload soon\n");
  EXPECT_EQ(warms_, 2);
}

TEST_F(HttpServe, ConfiguredStatusAndContentType) {
  const std::uint16_t port = FreePort("127.0.0.1");
  Build("127.0.0.1:" + std::to_string(port),
        "      content: <p>starting</p>\n"
        "      content_type: text/html\n"
        "      status: 503\n");
  ASSERT_TRUE(Start().ok());
  Response r = Fetch("127.0.0.1", port, Get("/"));
  EXPECT_EQ(r.status_line, "HTTP/1.1 503 Service Unavailable");
  EXPECT_EQ(r.headers["content-type"], "text/html");
  EXPECT_EQ(r.body, "<p>starting</p>");
  EXPECT_EQ(warms_, 1);
}

TEST_F(HttpServe, UnregisteredStatusGetsGosReasonPhrase) {
  const std::uint16_t port = FreePort("127.0.0.1");
  Build("127.0.0.1:" + std::to_string(port), "      content: x\n      status: 299\n");
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(Fetch("127.0.0.1", port, Get("/")).status_line, "HTTP/1.1 299 status code 299");
}

TEST_F(HttpServe, Http10RequestGetsAnHttp10Answer) {
  const std::uint16_t port = FreePort("127.0.0.1");
  Build("127.0.0.1:" + std::to_string(port), "      content: x\n");
  ASSERT_TRUE(Start().ok());
  Response r = Fetch("127.0.0.1", port, "GET / HTTP/1.0\r\n\r\n");
  EXPECT_EQ(r.status_line, "HTTP/1.0 200 OK");
  EXPECT_EQ(r.body, "x");
  EXPECT_EQ(warms_, 1);
}

TEST_F(HttpServe, OtherPathsGet404AndDoNotWarm) {
  const std::uint16_t port = FreePort("127.0.0.1");
  Build("127.0.0.1:" + std::to_string(port), "      content: x\n      endpoint: /wake\n");
  ASSERT_TRUE(Start().ok());
  Response r = Fetch("127.0.0.1", port, Get("/other"));
  EXPECT_EQ(r.status_line, "HTTP/1.1 404 Not Found");
  EXPECT_EQ(r.body, "404 page not found\n");
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_EQ(Fetch("127.0.0.1", port, Get("/wake/")).status_line, "HTTP/1.1 404 Not Found");
  EXPECT_EQ(Fetch("127.0.0.1", port, Get("/wakeup")).status_line, "HTTP/1.1 404 Not Found");
  EXPECT_EQ(Fetch("127.0.0.1", port, Get("/")).status_line, "HTTP/1.1 404 Not Found");
  EXPECT_EQ(Fetch("127.0.0.1", port, Get("*", "OPTIONS")).status_line, "HTTP/1.1 404 Not Found");
  EXPECT_EQ(warms_, 0);

  EXPECT_EQ(Fetch("127.0.0.1", port, Get("/wake?now=1")).status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(Fetch("127.0.0.1", port, Get("/w%61ke")).status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(Fetch("127.0.0.1", port, Get("http://gateway/wake")).status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(warms_, 3);
}

TEST_F(HttpServe, EndpointEndingInSlashServesItsSubtree) {
  const std::uint16_t port = FreePort("127.0.0.1");
  Build("127.0.0.1:" + std::to_string(port), "      content: x\n      endpoint: /app/\n");
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(Fetch("127.0.0.1", port, Get("/app/")).status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(Fetch("127.0.0.1", port, Get("/app/a/b")).status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(warms_, 2);
  EXPECT_EQ(Fetch("127.0.0.1", port, Get("/app")).status_line, "HTTP/1.1 404 Not Found");
  EXPECT_EQ(Fetch("127.0.0.1", port, Get("/application")).status_line, "HTTP/1.1 404 Not Found");
  EXPECT_EQ(Fetch("127.0.0.1", port, Get("/app%2")).status_line, "HTTP/1.1 404 Not Found");
  EXPECT_EQ(warms_, 2);
}

TEST_F(HttpServe, HeadGetsTheHeadersAlone) {
  const std::uint16_t port = FreePort("127.0.0.1");
  Build("127.0.0.1:" + std::to_string(port), "      content: hello\n");
  ASSERT_TRUE(Start().ok());
  Response r = Fetch("127.0.0.1", port, Get("/", "HEAD"));
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r.headers["content-length"], "5");
  EXPECT_EQ(r.body, "");
  EXPECT_EQ(warms_, 1);
}

TEST_F(HttpServe, ServesIpv6) {
  if (!Ipv6Loopback()) GTEST_SKIP() << "no IPv6 loopback";
  const std::uint16_t port = FreePort("::1");
  Build("[::1]:" + std::to_string(port), "      content: six\n");
  ASSERT_TRUE(Start().ok());
  Response r = Fetch("::1", port, Get("/"));
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(r.body, "six");
  EXPECT_EQ(warms_, 1);
}

TEST_F(HttpServe, DualStackListenServesBothFamilies) {
  if (!Ipv6Loopback()) GTEST_SKIP() << "no IPv6 loopback";
  const std::uint16_t port = FreePort("::");
  Build("[::]:" + std::to_string(port), "      content: both\n");
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(Fetch("127.0.0.1", port, Get("/")).body, "both");
  EXPECT_EQ(Fetch("::1", port, Get("/")).body, "both");
  EXPECT_EQ(warms_, 2);
}

TEST_F(HttpServe, OversizeHeaderGets431) {
  const std::uint16_t port = FreePort("127.0.0.1");
  Build("127.0.0.1:" + std::to_string(port), "      content: x\n");
  ASSERT_TRUE(Start().ok());
  const std::string request =
      "GET / HTTP/1.1\r\nHost: gateway\r\nX-Big: " + std::string(9000, 'a') + "\r\n\r\n";
  Response r = Fetch("127.0.0.1", port, request);
  EXPECT_EQ(r.status_line, "HTTP/1.1 431 Request Header Fields Too Large");
  EXPECT_EQ(r.body, "Request Header Fields Too Large\n");
  EXPECT_EQ(r.headers["connection"], "close");
  EXPECT_EQ(warms_, 0);
}

TEST_F(HttpServe, HeaderJustUnderTheLimitIsServed) {
  const std::uint16_t port = FreePort("127.0.0.1");
  Build("127.0.0.1:" + std::to_string(port), "      content: x\n");
  ASSERT_TRUE(Start().ok());
  const std::string request =
      "GET / HTTP/1.1\r\nHost: gateway\r\nX-Big: " + std::string(7000, 'a') + "\r\n\r\n";
  EXPECT_EQ(Fetch("127.0.0.1", port, request).status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(warms_, 1);
}

TEST_F(HttpServe, OversizeBodyGets413) {
  const std::uint16_t port = FreePort("127.0.0.1");
  Build("127.0.0.1:" + std::to_string(port), "      content: x\n");
  ASSERT_TRUE(Start().ok());
  const std::string body(70'000, 'b');
  const std::string request =
      "POST / HTTP/1.1\r\nHost: gateway\r\nContent-Length: " + std::to_string(body.size()) +
      "\r\n\r\n" + body;
  Response r = Fetch("127.0.0.1", port, request);
  EXPECT_EQ(r.status_line, "HTTP/1.1 413 Payload Too Large");
  EXPECT_EQ(r.body, "Payload Too Large\n");
  EXPECT_EQ(warms_, 0);

  // A body within the limit is read and the page served.
  const std::string small(60'000, 'b');
  r = Fetch("127.0.0.1", port,
            "POST / HTTP/1.1\r\nHost: gateway\r\nContent-Length: " + std::to_string(small.size()) +
                "\r\n\r\n" + small);
  EXPECT_EQ(r.status_line, "HTTP/1.1 200 OK");
  EXPECT_EQ(warms_, 1);
}

TEST_F(HttpServe, GarbageGets400) {
  const std::uint16_t port = FreePort("127.0.0.1");
  Build("127.0.0.1:" + std::to_string(port), "      content: x\n");
  ASSERT_TRUE(Start().ok());
  Response r = Fetch("127.0.0.1", port, "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n");
  EXPECT_EQ(r.status_line, "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(r.body, "Bad Request\n");
  EXPECT_EQ(warms_, 0);
}

TEST_F(HttpServe, SilentClientIsDroppedAfterTheReadTimeout) {
  const std::uint16_t port = FreePort("127.0.0.1");
  HttpLimits limits;
  limits.read_timeout = 300ms;
  Build("127.0.0.1:" + std::to_string(port), "      content: x\n", limits);
  ASSERT_TRUE(Start().ok());
  const auto start = Clock::now();
  UniqueFd silent = Connect("127.0.0.1", port);
  ASSERT_TRUE(silent.valid());
  // Half a request line and then nothing, as a slow client would.
  UniqueFd slow = Connect("127.0.0.1", port);
  ASSERT_TRUE(slow.valid());
  ASSERT_TRUE(SendAll(slow.get(), "GET / HT"));
  Received a = ReadUntilClosed(io_, silent.get());
  Received b = ReadUntilClosed(io_, slow.get());
  EXPECT_TRUE(a.closed);
  EXPECT_TRUE(b.closed);
  EXPECT_EQ(a.bytes, "");
  EXPECT_EQ(b.bytes, "");
  EXPECT_GE(Clock::now() - start, 250ms);
  EXPECT_EQ(warms_, 0);
}

TEST_F(HttpServe, ConnectionsOverTheLimitAreClosedAtOnce) {
  const std::uint16_t port = FreePort("127.0.0.1");
  HttpLimits limits;
  limits.max_connections = 2;
  Build("127.0.0.1:" + std::to_string(port), "      content: x\n", limits);
  ASSERT_TRUE(Start().ok());
  UniqueFd first = Connect("127.0.0.1", port);
  UniqueFd second = Connect("127.0.0.1", port);
  UniqueFd third = Connect("127.0.0.1", port);
  ASSERT_TRUE(first.valid() && second.valid() && third.valid());
  // Accepted in order: the third is over the limit.
  Received r = ReadUntilClosed(io_, third.get());
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.bytes, "");
  EXPECT_TRUE(StillOpen(first.get()));
  EXPECT_TRUE(StillOpen(second.get()));

  // Once one leaves, a new client is served again.
  first.Reset();
  bool served = Pump(io_, [&] {
    Received got = Exchange("127.0.0.1", port, Get("/"));
    return got.bytes.starts_with("HTTP/1.1 200 OK\r\n");
  });
  EXPECT_TRUE(served);
  EXPECT_TRUE(StillOpen(second.get()));
}

TEST_F(HttpServe, StopClosesEverythingAndStartServesAgain) {
  const std::uint16_t port = FreePort("127.0.0.1");
  Build("127.0.0.1:" + std::to_string(port), "      content: x\n");
  ASSERT_TRUE(Start().ok());
  EXPECT_EQ(Fetch("127.0.0.1", port, Get("/")).body, "x");
  UniqueFd idle = Connect("127.0.0.1", port);
  ASSERT_TRUE(idle.valid());
  PumpFor(io_, 50ms);  // let it be accepted
  ASSERT_TRUE(Stop().ok());
  EXPECT_TRUE(ReadUntilClosed(io_, idle.get(), 1s).closed);
  UniqueFd refused = Connect("127.0.0.1", port);
  EXPECT_FALSE(refused.valid());
  EXPECT_EQ(errno, ECONNREFUSED);
  EXPECT_TRUE(Stop().ok());  // stopping twice is fine

  ASSERT_TRUE(Start().ok());
  EXPECT_TRUE(Start().ok());  // starting twice is fine
  EXPECT_EQ(Fetch("127.0.0.1", port, Get("/")).body, "x");
  EXPECT_EQ(warms_, 2);
}

TEST_F(HttpServe, BindFailureNamesTheAddress) {
  const std::uint16_t port = FreePort("127.0.0.1");
  socklen_t len = 0;
  sockaddr_storage ss = Address("127.0.0.1", port, &len);
  UniqueFd taken(::socket(AF_INET, SOCK_STREAM, 0));
  ASSERT_EQ(::bind(taken.get(), reinterpret_cast<sockaddr*>(&ss), len), 0);
  ASSERT_EQ(::listen(taken.get(), 1), 0);
  Build("127.0.0.1:" + std::to_string(port), "      content: x\n");
  Status st = Start();
  EXPECT_EQ(st.message(),
            "listen on 127.0.0.1:" + std::to_string(port) + ": Address already in use");
  EXPECT_EQ(st.sys_errno(), EADDRINUSE);

  // Stopped, not stuck (B5): it starts once the port is free.
  taken.Reset();
  EXPECT_TRUE(Start().ok());
  EXPECT_EQ(Fetch("127.0.0.1", port, Get("/")).body, "x");
}

TEST_F(HttpServe, FactoryOpensNoSocket) {
  const std::uint16_t port = FreePort("127.0.0.1");
  Build("127.0.0.1:" + std::to_string(port), "      content: x\n");
  UniqueFd refused = Connect("127.0.0.1", port);
  EXPECT_FALSE(refused.valid());
  EXPECT_EQ(errno, ECONNREFUSED);
}

TEST_F(HttpServe, NothingCallsBackAfterClose) {
  const std::uint16_t port = FreePort("127.0.0.1");
  Build("127.0.0.1:" + std::to_string(port), "      content: x\n");
  bool called = false;
  handler_->Start([&](Status) { called = true; });
  // A request in flight when Close comes: it must not warm.
  UniqueFd fd = Connect("127.0.0.1", port);
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(SendAll(fd.get(), Get("/")));
  handler_->Close();
  handler_->Start([&](Status) { called = true; });
  handler_->Stop([&](Status) { called = true; });
  Received r = ReadUntilClosed(io_, fd.get());
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.bytes, "");
  PumpFor(io_, 50ms);
  EXPECT_FALSE(called);
  EXPECT_EQ(warms_, 0);
  handler_.reset();
  PumpFor(io_, 20ms);
}

TEST_F(HttpServe, HandlerMayGoWhileRequestsAreInFlight) {
  const std::uint16_t port = FreePort("127.0.0.1");
  Build("127.0.0.1:" + std::to_string(port), "      content: x\n");
  ASSERT_TRUE(Start().ok());
  UniqueFd a = Connect("127.0.0.1", port);
  UniqueFd b = Connect("127.0.0.1", port);
  ASSERT_TRUE(SendAll(b.get(), "GET / HTTP/1.1\r\n"));
  PumpFor(io_, 50ms);
  handler_.reset();  // destroys it: Close, then the queued handlers find it gone
  EXPECT_TRUE(ReadUntilClosed(io_, a.get()).closed);
  EXPECT_TRUE(ReadUntilClosed(io_, b.get()).closed);
  EXPECT_EQ(warms_, 0);
}

TEST_F(HttpServe, WarmMayCloseTheFrontend) {
  // The engine's warm callback may close (even destroy) the frontend from
  // inside the request's handler: that client gets no page, nothing breaks.
  const std::uint16_t port = FreePort("127.0.0.1");
  Build("127.0.0.1:" + std::to_string(port), "      content: x\n");
  ASSERT_TRUE(Start().ok());
  on_warm_ = [this] { handler_.reset(); };
  UniqueFd fd = Connect("127.0.0.1", port);
  ASSERT_TRUE(fd.valid());
  ASSERT_TRUE(SendAll(fd.get(), Get("/")));
  Received r = ReadUntilClosed(io_, fd.get());
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.bytes, "");
  EXPECT_EQ(warms_, 1);
  EXPECT_EQ(handler_, nullptr);
}

// --- Logging ------------------------------------------------------------------

std::string TempLog(const std::string& name) {
  const char* dir = std::getenv("TMPDIR");
  std::string path = std::string(dir != nullptr ? dir : "/tmp") + "/proxygw-http-test-" +
                     std::to_string(::getpid()) + "-" + name + ".log";
  std::remove(path.c_str());
  return path;
}

std::vector<std::string> LogLines(const std::string& path, const std::string& containing) {
  std::ifstream in(path);
  std::vector<std::string> out;
  for (std::string line; std::getline(in, line);) {
    if (line.find(containing) != std::string::npos) out.push_back(line);
  }
  return out;
}

TEST_F(HttpServe, RequestsAreLoggedAtDebugOnly) {
  // B21: the original logged a line per request (and per second) at INFO.
  const std::uint16_t port = FreePort("127.0.0.1");
  Build("127.0.0.1:" + std::to_string(port), "      content: x\n");
  const std::string info_log = TempLog("info");
  ASSERT_TRUE(engine::SetUpLogging(info_log, config::LogLevel::kInfo).ok());
  ASSERT_TRUE(Start().ok());
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Fetch("127.0.0.1", port, Get("/")).body, "x");
  EXPECT_EQ(Fetch("127.0.0.1", port, "nonsense\r\n\r\n").status_line, "HTTP/1.1 400 Bad Request");
  EXPECT_EQ(LogLines(info_log, "level="), Lines{});

  const std::string debug_log = TempLog("debug");
  ASSERT_TRUE(engine::SetUpLogging(debug_log, config::LogLevel::kDebug).ok());
  EXPECT_EQ(Fetch("127.0.0.1", port, Get("/a?b")).body, "x");
  auto lines = LogLines(debug_log, "msg=request");
  ASSERT_EQ(lines.size(), 1u);
  EXPECT_NE(lines[0].find("level=DEBUG msg=request frontend=page client=127.0.0.1:"),
            std::string::npos)
      << lines[0];
  EXPECT_NE(lines[0].find(" method=GET target=/a?b status=200"), std::string::npos) << lines[0];
  std::remove(info_log.c_str());
  std::remove(debug_log.c_str());
}

TEST_F(HttpServe, AcceptResumesAfterRunningOutOfDescriptors) {
  const std::uint16_t port = FreePort("127.0.0.1");
  HttpLimits limits;
  limits.accept_retry = 20ms;
  Build("127.0.0.1:" + std::to_string(port), "      content: x\n", limits);
  const std::string log = TempLog("emfile");
  ASSERT_TRUE(engine::SetUpLogging(log, config::LogLevel::kInfo).ok());
  ASSERT_TRUE(Start().ok());
  UniqueFd client = Connect("127.0.0.1", port);
  ASSERT_TRUE(client.valid());
  ASSERT_TRUE(SendAll(client.get(), Get("/")));

  // Use up every descriptor the limit allows, so that accept fails (EMFILE).
  rlimit saved{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &saved), 0);
  std::vector<UniqueFd> fillers;
  {
    UniqueFd probe(::dup(0));
    ASSERT_TRUE(probe.valid());
    rlimit low = saved;
    low.rlim_cur = static_cast<rlim_t>(probe.get()) + 4;
    ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  }
  for (;;) {
    UniqueFd fd(::dup(0));
    if (!fd.valid()) break;
    fillers.push_back(std::move(fd));
  }
  // Several failed retries; the log file cannot be read meanwhile (no
  // descriptor left to open it).
  PumpFor(io_, 200ms);
  const bool waiting = StillOpen(client.get());
  fillers.clear();
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &saved), 0);
  EXPECT_TRUE(waiting);

  Received r = ReadUntilClosed(io_, client.get());
  EXPECT_TRUE(r.bytes.starts_with("HTTP/1.1 200 OK\r\n")) << r.bytes;
  EXPECT_EQ(warms_, 1);
  const std::string warning =
      "level=WARN msg=\"cannot accept connections; retrying until it works\"";
  auto lines = LogLines(log, warning);
  ASSERT_EQ(lines.size(), 1u);  // one line for the whole burst
  EXPECT_NE(lines[0].find(" frontend=page listen=127.0.0.1:" + std::to_string(port) +
                          " error=\"accept: Too many open files\" retry_every=20ms"),
            std::string::npos)
      << lines[0];
  std::remove(log.c_str());
}

}  // namespace
}  // namespace plugins::static_ns
