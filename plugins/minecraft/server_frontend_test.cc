// minecraft:server over real loopback sockets, with the engine's loop run in
// the test thread and a plain socket client: the status exchange, logins
// (allowed, refused), the legacy ping, malformed input, the bounds.
#include "plugins/minecraft/server_frontend.h"

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cerrno>
#include <chrono>
#include <string>
#include <thread>

#include "common/unique_fd.h"
#include "plugins/minecraft/mc_codec.h"
#include "proxygw-engine/config/loader.h"

namespace plugins::minecraft {
namespace {

using namespace std::chrono_literals;
using namespace std::string_literals;
using common::UniqueFd;
using Clock = std::chrono::steady_clock;

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

std::uint16_t FreePort() {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a), 0);
  socklen_t len = sizeof a;
  EXPECT_EQ(::getsockname(fd.get(), reinterpret_cast<sockaddr*>(&a), &len), 0);
  return ntohs(a.sin_port);
}

UniqueFd Connect(std::uint16_t port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_port = htons(port);
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd.get(), reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) fd.Reset();
  return fd;
}

void Send(int fd, const std::string& s) {
  ASSERT_EQ(::send(fd, s.data(), s.size(), MSG_NOSIGNAL), static_cast<ssize_t>(s.size()));
}

struct Received {
  std::string bytes;
  bool closed = false;
};

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
          return r.closed = true;
        }
      },
      bound);
  return r;
}

std::string Handshake(std::int32_t protocol, std::int32_t next) {
  std::string p(1, '\x00');
  AppendVarInt(p, protocol);
  AppendString(p, "localhost");
  p += "\x63\xdd"s;
  AppendVarInt(p, next);
  return Framed(p);
}

std::string LoginStart(const std::string& name) {
  std::string p(1, '\x00');
  AppendString(p, name);
  p += std::string(16, '\x01');
  return Framed(p);
}

// The packets of `bytes`, payloads only; stops at the first incomplete one.
std::vector<std::string> Packets(std::string_view bytes) {
  std::vector<std::string> out;
  for (;;) {
    Frame f = NextFrame(bytes, 1 << 20);
    if (f.state != FrameState::kFrame) return out;
    out.emplace_back(f.payload);
    bytes.remove_prefix(f.consumed);
  }
}

class McServe : public ::testing::Test {
 protected:
  void TearDown() override {
    if (handler_) handler_->Close();
  }

  void Start(const std::string& options, ServerLimits limits = {}) {
    port_ = FreePort();
    std::string yaml =
        "version: v1\n"
        "log: {output: stderr}\n"
        "plugins: {}\n"
        "targets:\n"
        "  - {name: mc, kind: 'static:none', idle_timeout: 300s,"
        " endpoints: [{name: game, protocol: tcp, address: '198.18.0.2:25565'}]}\n"
        "frontends:\n"
        "  - name: mc\n"
        "    kind: minecraft:server\n"
        "    flow_timeout: 60s\n"
        "    listen: '127.0.0.1:" +
        std::to_string(port_) +
        "'\n"
        "    target: mc:game\n" +
        options;
    config::LoadResult r = config::LoadConfigString(yaml, "t.yaml");
    ASSERT_TRUE(r.ok()) << r.ErrorText();
    config_ = std::move(*r.config);
    std::vector<config::ConfigError> errors;
    config::ErrorSink sink("t.yaml", &errors);
    handler_ = NewServerFrontend(
        {io_, config_.frontends[0], engine::Logger(), [this] { ++warms_; }}, sink,
        [this] { return state_; }, limits);
    ASSERT_TRUE(handler_) << (errors.empty() ? "" : errors[0].ToString());
    bool started = false;
    handler_->Start([&](common::Status s) {
      EXPECT_TRUE(s.ok()) << s.message();
      started = true;
    });
    ASSERT_TRUE(Pump(io_, [&] { return started; }));
  }

  boost::asio::io_context io_;
  config::Config config_;
  std::unique_ptr<engine::FrontendHandler> handler_;
  std::uint16_t port_ = 0;
  int warms_ = 0;
  std::string state_ = "inactive";
};

TEST_F(McServe, StatusAndPingWithoutAWarm) {
  Start("    options: {motd: Zzz, starting_motd: Soon, max_players: 7}\n");
  UniqueFd c = Connect(port_);
  ASSERT_TRUE(c.valid());
  Send(c.get(), Handshake(767, 1) + Framed("\x00"s) +
                    Framed("\x01"
                           "ABCDEFGH"s));
  Received r = ReadUntilClosed(io_, c.get());
  EXPECT_TRUE(r.closed);
  auto packets = Packets(r.bytes);
  ASSERT_EQ(packets.size(), 2u) << r.bytes;
  Reader status(packets[0]);
  EXPECT_EQ(status.VarInt(), 0);
  EXPECT_EQ(status.String(32767),
            "{\"version\":{\"name\":\"proxygw-minecraft\",\"protocol\":767},\"players\":{"
            "\"max\":7,\"online\":0},\"description\":{\"text\":\"Zzz\"}}");
  EXPECT_EQ(packets[1],
            "\x01"
            "ABCDEFGH"s);
  EXPECT_EQ(warms_, 0);
}

TEST_F(McServe, TheStartingMotdWhileWarmingAndAFixedProtocol) {
  Start("    options: {motd: Zzz, starting_motd: Soon, protocol: 47}\n");
  state_ = "warming";
  UniqueFd c = Connect(port_);
  Send(c.get(), Handshake(767, 1) + Framed("\x00"s));
  Received r = ReadUntilClosed(io_, c.get(), 500ms);
  auto packets = Packets(r.bytes);
  ASSERT_EQ(packets.size(), 1u);
  EXPECT_NE(packets[0].find("\"protocol\":47"), std::string::npos) << packets[0];
  EXPECT_NE(packets[0].find("\"text\":\"Soon\""), std::string::npos) << packets[0];
}

TEST_F(McServe, ALoginWarmsAndIsDisconnectedWithTheLoginText) {
  Start("    options: {login: Later}\n");
  UniqueFd c = Connect(port_);
  Send(c.get(), Handshake(767, 2) + LoginStart("Steve"));
  Received r = ReadUntilClosed(io_, c.get());
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(Packets(r.bytes), std::vector<std::string>{"\x00\x10{\"text\":\"Later\"}"s});
  EXPECT_EQ(warms_, 1);
}

TEST_F(McServe, ANameOutsideWakeAllowDoesNotWarm) {
  Start("    options: {wake_allow: [Alex], not_allowed: Nope}\n");
  UniqueFd c = Connect(port_);
  Send(c.get(), Handshake(767, 2) + LoginStart("Steve"));
  Received r = ReadUntilClosed(io_, c.get());
  EXPECT_EQ(Packets(r.bytes), std::vector<std::string>{"\x00\x0f{\"text\":\"Nope\"}"s});
  EXPECT_EQ(warms_, 0);
  UniqueFd a = Connect(port_);
  Send(a.get(), Handshake(767, 2) + LoginStart("alex"));
  ReadUntilClosed(io_, a.get());
  EXPECT_EQ(warms_, 1);
}

TEST_F(McServe, TheLegacyPingGetsAKickPacket) {
  Start("    options: {motd: Zzz}\n");
  UniqueFd c = Connect(port_);
  Send(c.get(), "\xfe\x01"s);
  Received r = ReadUntilClosed(io_, c.get());
  EXPECT_TRUE(r.closed);
  ASSERT_GE(r.bytes.size(), 3u);
  EXPECT_EQ(r.bytes[0], '\xff');
  EXPECT_EQ(warms_, 0);
}

TEST_F(McServe, MalformedInputClosesThatConnectionOnly) {
  Start("");
  UniqueFd idle = Connect(port_);  // a client that waits, unharmed by the others
  for (const std::string& bad : {"\x80\x80\x80\x80\x80\x01"s, "\x00"s, "\x03\x05\x00\x00"s,
                                 Handshake(767, 1) + Framed("\x05"s)}) {
    UniqueFd c = Connect(port_);
    Send(c.get(), bad);
    Received r = ReadUntilClosed(io_, c.get());
    EXPECT_TRUE(r.closed);
    EXPECT_EQ(r.bytes, "");
  }
  UniqueFd c = Connect(port_);
  Send(c.get(), Handshake(767, 1) + Framed("\x00"s));
  Received r = ReadUntilClosed(io_, c.get(), 300ms);
  EXPECT_EQ(Packets(r.bytes).size(), 1u);
  EXPECT_EQ(warms_, 0);
  Send(idle.get(), Handshake(767, 2) + LoginStart("Steve"));
  EXPECT_TRUE(ReadUntilClosed(io_, idle.get()).closed);
  EXPECT_EQ(warms_, 1);
}

TEST_F(McServe, AnOversizedPacketIsRefusedFromItsLength) {
  ServerLimits limits;
  limits.max_packet_bytes = 64;
  Start("", limits);
  UniqueFd c = Connect(port_);
  Send(c.get(), "\x41"s);  // 65 bytes announced
  Received r = ReadUntilClosed(io_, c.get());
  EXPECT_TRUE(r.closed);
  EXPECT_EQ(r.bytes, "");
}

TEST_F(McServe, ASlowClientIsClosedAtTheDeadline) {
  ServerLimits limits;
  limits.read_timeout = 200ms;
  limits.linger_timeout = 100ms;
  Start("", limits);
  UniqueFd c = Connect(port_);
  Send(c.get(), Handshake(767, 1).substr(0, 3));
  const auto start = Clock::now();
  Received r = ReadUntilClosed(io_, c.get(), 5s);
  EXPECT_TRUE(r.closed);
  EXPECT_LT(Clock::now() - start, 4s);
}

TEST_F(McServe, ConnectionsOverTheCapAreClosed) {
  ServerLimits limits;
  limits.max_connections = 2;
  Start("", limits);
  UniqueFd a = Connect(port_), b = Connect(port_);
  Pump(
      io_, [] { return false; }, 100ms);
  UniqueFd over = Connect(port_);
  Received r = ReadUntilClosed(io_, over.get());
  EXPECT_TRUE(r.closed);
  a.Reset();
  Pump(
      io_, [] { return false; }, 100ms);
  UniqueFd c = Connect(port_);
  Send(c.get(), Handshake(767, 1) + Framed("\x00"s));
  EXPECT_EQ(Packets(ReadUntilClosed(io_, c.get(), 300ms).bytes).size(), 1u);
}

TEST_F(McServe, StopClosesTheListenerAndItsConnections) {
  Start("");
  UniqueFd c = Connect(port_);
  Pump(
      io_, [] { return false; }, 50ms);
  bool stopped = false;
  handler_->Stop([&](common::Status s) { stopped = s.ok(); });
  ASSERT_TRUE(Pump(io_, [&] { return stopped; }));
  EXPECT_TRUE(ReadUntilClosed(io_, c.get()).closed);
  EXPECT_FALSE(Connect(port_).valid());
}

}  // namespace
}  // namespace plugins::minecraft
