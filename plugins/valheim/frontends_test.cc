// valheim:status and valheim:server over real loopback UDP sockets, with the
// engine's loop in the test thread: the challenge exchange, the answers, and
// which datagrams warm.
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <string>
#include <thread>

#include "common/unique_fd.h"
#include "plugins/valheim/a2s.h"
#include "plugins/valheim/server_frontend.h"
#include "plugins/valheim/status_frontend.h"
#include "proxygw-engine/config/loader.h"

namespace plugins::valheim {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using common::UniqueFd;

std::uint16_t FreeUdpPort() {
  UniqueFd fd(::socket(AF_INET, SOCK_DGRAM, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  ::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len);
  return ntohs(a.sin_port);
}

class Udp : public ::testing::Test {
 protected:
  void TearDown() override {
    if (handler_) handler_->Close();
  }

  void Start(const std::string& kind, const std::string& options) {
    port_ = FreeUdpPort();
    std::string yaml =
        "version: v1\nlog: {output: stderr}\nplugins: {}\n"
        "targets:\n"
        "  - {name: vh, kind: 'static:none', idle_timeout: 300s,"
        " endpoints: [{name: e, protocol: udp, address: '198.18.0.2:2456'}]}\n"
        "frontends:\n"
        "  - {name: vh, kind: '" +
        kind + "', flow_timeout: 60s, listen: '127.0.0.1:" + std::to_string(port_) +
        "', target: 'vh:e'" + options + "}\n";
    config::LoadResult r = config::LoadConfigString(yaml, "t.yaml");
    ASSERT_TRUE(r.ok()) << r.ErrorText();
    config_ = std::move(*r.config);
    std::vector<config::ConfigError> errors;
    config::ErrorSink sink("t.yaml", &errors);
    engine::FrontendContext ctx{io_, config_.frontends[0], engine::Logger(), [this] { ++warms_; }};
    handler_ =
        kind == "valheim:status" ? NewStatusFrontend(ctx, sink) : NewServerFrontend(ctx, sink);
    ASSERT_TRUE(handler_) << (errors.empty() ? "" : errors[0].ToString());
    bool started = false;
    handler_->Start([&](common::Status s) { started = s.ok(); });
    while (!started) io_.run_for(5ms);
    client_.Reset(::socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0));
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port_);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ASSERT_EQ(::connect(client_.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  }

  // Sends `d`, runs the loop, returns the answer ("" when none came).
  std::string Ask(const std::string& d, std::chrono::milliseconds wait = 300ms) {
    ::send(client_.get(), d.data(), d.size(), 0);
    const auto end = std::chrono::steady_clock::now() + wait;
    char buf[2048];
    while (std::chrono::steady_clock::now() < end) {
      io_.run_for(5ms);
      ssize_t n = ::recv(client_.get(), buf, sizeof buf, MSG_DONTWAIT);
      if (n >= 0) return std::string(buf, static_cast<std::size_t>(n));
    }
    return "";
  }

  boost::asio::io_context io_;
  config::Config config_;
  std::unique_ptr<engine::FrontendHandler> handler_;
  UniqueFd client_;
  std::uint16_t port_ = 0;
  int warms_ = 0;
};

const std::string kInfo = "\xff\xff\xff\xffTSource Engine Query\0"s;

TEST_F(Udp, StatusAnswersInfoAfterTheChallengeAndNeverWarms) {
  Start("valheim:status", ", options: {name: Srv, version: '0.221.12'}");
  std::string challenge = Ask(kInfo);
  ASSERT_EQ(challenge.size(), 9u);
  ASSERT_EQ(challenge.substr(0, 5), "\xff\xff\xff\xff\x41"s);
  auto info = ParseInfo(Ask(kInfo + challenge.substr(5)));
  ASSERT_TRUE(info.ok()) << info.status().message();
  EXPECT_EQ(info->name, "Srv");
  EXPECT_TRUE(info->password);
  EXPECT_EQ(info->port, port_ - 1);
  // A wrong challenge gets a challenge again.
  EXPECT_EQ(Ask(kInfo + "\x01\x02\x03\x04"s).substr(0, 5), "\xff\xff\xff\xff\x41"s);
  EXPECT_EQ(Ask("\xff\xff\xff\xffU" + challenge.substr(5)), "\xff\xff\xff\xff\x44\x00"s);
  EXPECT_EQ(Ask("\xff\xff\xff\xffV" + challenge.substr(5)), "\xff\xff\xff\xff\x45\x00\x00"s);
  EXPECT_EQ(Ask("\xff\xff\xff\xffW"s), challenge);
  EXPECT_EQ(Ask("\xff\xff\xff\xffi"s), "\xff\xff\xff\xffj00000000000000\0"s);
  EXPECT_EQ(Ask("hello"), "");
  EXPECT_EQ(Ask("\x22\x00\x00\x00\x00\x00\x00\x00"s), "");
  EXPECT_EQ(warms_, 0);
}

TEST_F(Udp, ServerWarmsOnConnectionSetupOnly) {
  Start("valheim:server", "");
  EXPECT_EQ(Ask(kInfo, 100ms), "");
  EXPECT_EQ(Ask("hello world", 100ms), "");
  EXPECT_EQ(Ask("\x20\x00\x00"s, 100ms), "");  // too short
  EXPECT_EQ(warms_, 0);
  EXPECT_EQ(Ask("\x20\x00\x00\x00\x00\x00\x00\x00"s, 100ms), "");
  EXPECT_EQ(warms_, 1);
  EXPECT_EQ(Ask("\x22\x00\x00\x00\x00\x00\x00\x00"s, 100ms), "");
  EXPECT_EQ(warms_, 2);
}

TEST(ValheimSetup, FirstByte32Or34) {
  EXPECT_TRUE(IsConnectionSetup("\x20\x01\x02\x03\x04\x05"s));
  EXPECT_TRUE(IsConnectionSetup("\x22\x01\x02\x03\x04\x05"s));
  EXPECT_FALSE(IsConnectionSetup("\x21\x01\x02\x03\x04\x05"s));
  EXPECT_FALSE(IsConnectionSetup("\x20\x01\x02\x03\x04"s));
}

}  // namespace
}  // namespace plugins::valheim
