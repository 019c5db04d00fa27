// The metrics endpoint over real HTTP on loopback: the page for GET and HEAD
// of /metrics, 405 for other methods, 404 for other paths, and the shared
// server's bounds (431). The loop runs in a second thread; the test thread
// is a plain blocking client.
#include "plugins/metrics/metrics_server.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <cstring>
#include <future>
#include <string>
#include <thread>

#include "common/unique_fd.h"
#include "plugins/metrics/metrics_page.h"
#include "plugins/net/tcp_listener.h"
#include "proxygw-engine/metrics.h"

namespace metrics_plugin {
namespace {

namespace asio = boost::asio;

class FixedControl : public engine::Control {
 public:
  engine::StatusSnapshot Status() const override {
    engine::StatusSnapshot s;
    engine::TargetStatus t;
    t.name = "web";
    t.state = "warming";
    s.targets.push_back(t);
    return s;
  }
  common::Status Warm(const std::string&) override { return common::Status::Ok(); }
  common::Status Drain(const std::string&) override { return common::Status::Ok(); }
  engine::ReloadReport Reload() override { return {}; }
  common::Status SetRole(common::HaRole, common::HaRole*) override { return common::Status::Ok(); }
  const engine::Metrics* metrics() const override { return &counters; }
  engine::Metrics counters;
};

class MetricsServe : public ::testing::Test {
 protected:
  void SetUp() override {
    control_.counters.ForTarget("web").warms = 7;
    plugins::net::HttpLimits limits;
    limits.header_bytes = 1024;
    // Port 0: the kernel picks one; read it back from the socket below.
    auto server = OpenMetricsServer(io_, control_, engine::Logger(),
                                    *common::AddrPort::Parse("127.0.0.1:0"), limits);
    ASSERT_TRUE(server.ok()) << server.status().message();
    server_ = *server;
    loop_ = std::thread([this] { io_.run(); });
  }
  void TearDown() override {
    std::promise<void> done;
    asio::post(io_, [&] {
      // With the listener closed, the loop runs out of work and returns.
      if (server_) server_->Shutdown();
      done.set_value();
    });
    done.get_future().wait();
    loop_.join();
  }

  // Sends `request` to the server and returns all it sent until it closed.
  std::string Exchange(const std::string& request) {
    common::UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    timeval tv{10, 0};
    ::setsockopt(fd.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(Port());
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) return "connect";
    if (::send(fd.get(), request.data(), request.size(), MSG_NOSIGNAL) < 0) return "send";
    ::shutdown(fd.get(), SHUT_WR);
    std::string got;
    char buf[4096];
    for (ssize_t n; (n = ::recv(fd.get(), buf, sizeof buf, 0)) > 0;) {
      got.append(buf, static_cast<std::size_t>(n));
    }
    return got;
  }

  std::uint16_t Port() {
    std::promise<std::uint16_t> p;
    asio::post(io_, [&] { p.set_value(server_->tcp().port()); });
    return p.get_future().get();
  }

  asio::io_context io_;
  FixedControl control_;
  std::shared_ptr<plugins::net::HttpServer> server_;
  std::thread loop_;
};

std::string Request(const std::string& method, const std::string& target) {
  return method + " " + target + " HTTP/1.1\r\nHost: gateway\r\n\r\n";
}

TEST_F(MetricsServe, GetServesThePage) {
  std::string got = Exchange(Request("GET", "/metrics"));
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("\r\nContent-Type: text/plain; version=0.0.4; charset=utf-8\r\n"),
            std::string::npos);
  EXPECT_NE(got.find("\nproxygw_target_warms_total{target=\"web\"} 7\n"), std::string::npos);
  EXPECT_NE(got.find("\nproxygw_target_state{target=\"web\",state=\"warming\"} 1\n"),
            std::string::npos);
  EXPECT_NE(got.find("\nprocess_open_fds "), std::string::npos);
  // A query string is no other path.
  EXPECT_EQ(Exchange(Request("GET", "/metrics?x=1")).rfind("HTTP/1.1 200 OK\r\n", 0), 0u);
}

TEST_F(MetricsServe, HeadGetsTheHeadersAlone) {
  std::string got = Exchange(Request("HEAD", "/metrics"));
  EXPECT_EQ(got.rfind("HTTP/1.1 200 OK\r\n", 0), 0u) << got;
  EXPECT_EQ(got.substr(got.find("\r\n\r\n") + 4), "");
}

TEST_F(MetricsServe, OtherMethodsGet405AndOtherPaths404) {
  std::string got = Exchange(Request("POST", "/metrics"));
  EXPECT_EQ(got.rfind("HTTP/1.1 405 Method Not Allowed\r\n", 0), 0u) << got;
  EXPECT_NE(got.find("\r\nAllow: GET, HEAD\r\n"), std::string::npos) << got;
  got = Exchange(Request("GET", "/"));
  EXPECT_EQ(got.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << got;
  EXPECT_EQ(got.find("proxygw_"), std::string::npos);
  got = Exchange(Request("GET", "/metrics/x"));
  EXPECT_EQ(got.rfind("HTTP/1.1 404 Not Found\r\n", 0), 0u) << got;
}

TEST_F(MetricsServe, OversizedHeadersGet431AndGarbage400) {
  std::string got = Exchange("GET /metrics HTTP/1.1\r\nX: " + std::string(2048, 'a') + "\r\n\r\n");
  EXPECT_EQ(got.rfind("HTTP/1.1 431 ", 0), 0u) << got.substr(0, 100);
  got = Exchange("\x16\x03\x01 not http\r\n\r\n");
  EXPECT_EQ(got.rfind("HTTP/1.1 400 Bad Request\r\n", 0), 0u) << got.substr(0, 100);
}

}  // namespace
}  // namespace metrics_plugin
