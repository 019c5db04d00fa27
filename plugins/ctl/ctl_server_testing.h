// Test support for the ctl plugin's tests: a CtlServer fixture running a
// Server on a real io_context on its own thread, over a real Unix socket in a
// temporary directory and a FakeControl, and a blocking Client.
#pragma once

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <optional>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "common/ipc/ctl_stream.h"
#include "common/unique_fd.h"
#include "plugins/ctl/ctl_server.h"
#include "plugins/ctl/fake_control.h"

namespace ctl_plugin {

namespace wire = ipc::ctl;

inline constexpr const char* kSampleStatusLine =
    R"({"id":1,"method":3,"body":{"closed":false,"dataplane":"connected","targets":[)"
    R"({"name":"api","kind":"static:cmd","state":"active","flows":3,"since":"2024-05-01T12:00:00Z",)"
    R"("endpoints":[{"name":"dns","protocol":"udp","address":"198.18.2.2:53"},)"
    R"({"name":"http","protocol":"tcp","address":"198.18.2.2:80",)"
    R"("addresses":["198.18.2.2:80","[2001:db8::2]:80"]}]},)"
    R"({"name":"web","kind":"static:cmd","state":"inactive","last_error":"backend exited: status 1",)"
    R"("flows":0,"since":"2024-05-01T12:01:30Z",)"
    R"("endpoints":[{"name":"http","protocol":"tcp","address":"198.18.2.3:8080"}]}],)"
    R"("frontends":[{"name":"dns","kind":"static:always","state":"stopped",)"
    R"("last_error":"bind: address in use","protocol":"udp","listen":"0.0.0.0:53",)"
    R"("target_name":"api","endpoint_name":"dns","proxyaddress":"198.18.2.2:53"},)"
    R"({"name":"public","kind":"static:always","state":"running","protocol":"tcp",)"
    R"("listen":"[::]:80","target_name":"api","endpoint_name":"http","proxyaddress":"198.18.2.2:80",)"
    R"("proxyaddresses":["198.18.2.2:80","[2001:db8::2]:80"]}]}})";

inline sockaddr_un Addr(const std::string& path) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
  return addr;
}

// A blocking client with a 5 s receive timeout.
class Client {
 public:
  explicit Client(const std::string& path, bool connect = true)
      : fd_(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)), path_(path) {
    timeval tv{5, 0};
    ::setsockopt(fd_.get(), SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    if (connect) Connect();
  }
  bool Connect() {
    sockaddr_un addr = Addr(path_);
    connected_ = ::connect(fd_.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
    return connected_;
  }
  bool connected() const { return connected_; }

  // False when the peer is gone.
  bool Send(std::string_view bytes) {
    while (!bytes.empty()) {
      ssize_t n = ::send(fd_.get(), bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      bytes.remove_prefix(static_cast<std::size_t>(n));
    }
    return true;
  }
  void ShutdownWrite() { ::shutdown(fd_.get(), SHUT_WR); }

  // The next line without its "\n"; nullopt at EOF, on an error or timeout.
  std::optional<std::string> Line() {
    for (;;) {
      auto nl = buf_.find('\n');
      if (nl != std::string::npos) {
        std::string line = buf_.substr(0, nl);
        buf_.erase(0, nl + 1);
        return line;
      }
      if (!Fill()) return std::nullopt;
    }
  }

  // The next packet's raw bytes in `codec` (framed by the decoder).
  std::optional<std::string> Packet(wire::Codec codec) {
    for (;;) {
      // Find the shortest prefix of buf_ that holds one whole packet.
      wire::StreamDecoder d(codec, wire::kMaxResponseBytes);
      for (std::size_t n = 1; n <= buf_.size(); ++n) {
        d.Feed(std::string_view(buf_).substr(n - 1, 1));
        auto r = d.Next();
        if (!r.ok()) return std::nullopt;
        if (r->has_value()) {
          std::string out = buf_.substr(0, n);
          buf_.erase(0, n);
          return out;
        }
      }
      if (!Fill()) return std::nullopt;
    }
  }

  // True when the server closes the connection (EOF or reset) within 5 s.
  bool ClosedByPeer() {
    while (Fill()) {
    }
    return last_read_ == 0 || last_errno_ == ECONNRESET;
  }

 private:
  bool Fill() {
    char chunk[65536];
    ssize_t n;
    do {
      n = ::recv(fd_.get(), chunk, sizeof chunk, 0);
    } while (n < 0 && errno == EINTR);
    last_read_ = n;
    last_errno_ = n < 0 ? errno : 0;
    if (n <= 0) return false;
    buf_.append(chunk, static_cast<std::size_t>(n));
    return true;
  }

  common::UniqueFd fd_;
  std::string path_;
  bool connected_ = false;
  std::string buf_;
  ssize_t last_read_ = -1;
  int last_errno_ = 0;
};

inline std::string Request(std::uint32_t id, const ipc::ctl::Body& body) {
  return wire::EncodePacket(wire::Codec::kJson, id, body);
}

class CtlServer : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ctl-server-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    config_.socket = dir_ + "/ctl.sock";
    config_.socket_path = "plugins.ctl.socket";
    log_file_ = dir_ + "/engine.log";
    ASSERT_TRUE(engine::SetUpLogging(log_file_, config::LogLevel::kInfo).ok());
  }
  void TearDown() override {
    Stop();
    ASSERT_TRUE(engine::SetUpLogging("stderr", config::LogLevel::kInfo).ok());
    std::filesystem::remove_all(dir_);
  }

  void Start(wire::Codec codec = wire::Codec::kJson, ServerLimits limits = {}) {
    config_.codec = codec;
    auto s = Server::Start(io_, control_, engine::Logger().With({{"plugin", "ctl"}}), config_,
                           limits);
    ASSERT_TRUE(s.ok()) << s.status().message();
    server_ = std::move(s).value();
    RunLoop();
  }
  void RunLoop() {
    thread_ = std::thread([this] {
      // Keeps run() going while nothing is pending.
      auto work = boost::asio::require(io_.get_executor(),
                                       boost::asio::execution::outstanding_work.tracked);
      io_.run();
    });
  }
  // Stops the loop thread, closes the server on this thread, then runs what
  // the close left queued.
  void Stop() {
    if (thread_.joinable()) {
      io_.stop();
      thread_.join();
    }
    if (server_) server_->Close();
    io_.restart();
    io_.poll();
  }
  template <class F>
  auto OnLoop(F f) {
    std::promise<decltype(f())> p;
    boost::asio::post(io_, [&] { p.set_value(f()); });
    return p.get_future().get();
  }
  // Polls the loop until pred() holds there, for up to 5 s.
  template <class F>
  bool Eventually(F pred) {
    for (int i = 0; i < 500; ++i) {
      if (OnLoop(pred)) return true;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }
  std::vector<std::string> LogLines(std::string_view containing) {
    std::ifstream in(log_file_);
    std::vector<std::string> out;
    for (std::string line; std::getline(in, line);) {
      if (line.find(containing) != std::string::npos) out.push_back(line);
    }
    return out;
  }

  std::string dir_;
  std::string log_file_;
  CtlConfig config_;
  FakeControl control_;
  boost::asio::io_context io_;
  std::unique_ptr<Server> server_;
  std::thread thread_;
};

}  // namespace ctl_plugin
