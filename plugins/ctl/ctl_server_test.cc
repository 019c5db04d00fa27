// The ctl server end to end: a real io_context on its own thread, a real Unix
// socket in a temporary directory, a FakeControl, and blocking clients.
#include "plugins/ctl/ctl_server.h"

#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <future>
#include <sstream>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <nlohmann/json.hpp>

#include "common/unique_fd.h"
#include "plugins/ctl/fake_control.h"
#include "proxygw-engine/plugin_api.h"

extern const engine::PluginDef proxygw_plugin_ctl;

namespace ctl_plugin {
namespace {

namespace wire = ipc::ctl;
using namespace std::chrono_literals;

constexpr const char* kSampleStatusLine =
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

sockaddr_un Addr(const std::string& path) {
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

std::string Request(std::uint32_t id, const wire::Body& body) {
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
      std::this_thread::sleep_for(10ms);
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

TEST_F(CtlServer, StatusJsonHasTheExactShape) {
  Start();
  Client c(config_.socket);
  ASSERT_TRUE(c.Send("{\"id\":1,\"method\":2,\"body\":{}}\n"));
  EXPECT_EQ(c.Line(), kSampleStatusLine);
}

TEST_F(CtlServer, StatusCborHasTheExactShapeWithIntegerProtocols) {
  Start(wire::Codec::kCbor);
  Client c(config_.socket);
  ASSERT_TRUE(c.Send(wire::EncodePacket(wire::Codec::kCbor, 1, wire::StatusRequest{})));
  auto raw = c.Packet(wire::Codec::kCbor);
  ASSERT_TRUE(raw.has_value());
  std::string want = kSampleStatusLine;
  for (auto [from, to] : {std::pair{R"("protocol":"tcp")", R"("protocol":6)"},
                          std::pair{R"("protocol":"udp")", R"("protocol":17)"}}) {
    for (auto pos = want.find(from); pos != std::string::npos; pos = want.find(from)) {
      want.replace(pos, std::string_view(from).size(), to);
    }
  }
  EXPECT_EQ(nlohmann::ordered_json::from_cbor(*raw).dump(), want);
}

TEST_F(CtlServer, WarmDrainAndUnknownTargets) {
  Start();
  Client c(config_.socket);
  ASSERT_TRUE(c.Send(Request(1, wire::WarmTargetRequest{"web"}) +
                     Request(2, wire::DrainTargetRequest{"api"}) +
                     Request(3, wire::WarmTargetRequest{"nope"}) +
                     Request(4, wire::DrainTargetRequest{"nope"})));
  EXPECT_EQ(c.Line(), R"({"id":1,"method":9,"body":{}})");
  EXPECT_EQ(c.Line(), R"({"id":2,"method":11,"body":{}})");
  EXPECT_EQ(c.Line(),
            R"({"id":3,"method":1,"body":{"msg":"no target named \"nope\"","code":"not_found"}})");
  EXPECT_EQ(c.Line(),
            R"({"id":4,"method":1,"body":{"msg":"no target named \"nope\"","code":"not_found"}})");
  Stop();
  EXPECT_EQ(control_.calls(), (std::vector<std::string>{"warm web", "drain api"}));
}

TEST_F(CtlServer, UnsupportedMethodsResponsesAndNotifications) {
  Start();
  Client c(config_.socket);
  ASSERT_TRUE(c.Send(R"({"id":1,"method":4,"body":{}})"
                     R"({"id":2,"method":3,"body":{"closed":true}})"  // a response: ignored
                     R"({"id":0,"method":2,"body":{}})"               // a notification: ignored
                     R"({"id":3,"method":1000})"
                     R"({"id":4,"method":32768,"body":{"name":"x"}})"
                     R"({"id":5,"method":1,"body":null})"  // a response, even malformed
                     R"({"id":7,"method":999})"             // odd: a response id too
                     "\n{\"id\":6,\"method\":10,\"body\":{\"name\":\"web\"}}\n"));
  EXPECT_EQ(c.Line(),
            R"({"id":1,"method":1,"body":{"msg":"unsupported method 4","code":"invalid_argument"}})");
  EXPECT_EQ(c.Line(),
            R"({"id":3,"method":1,"body":{"msg":"unsupported method 1000","code":"invalid_argument"}})");
  EXPECT_EQ(
      c.Line(),
      R"({"id":4,"method":1,"body":{"msg":"unsupported method 32768","code":"invalid_argument"}})");
  EXPECT_EQ(c.Line(), R"({"id":6,"method":11,"body":{}})");
}

// B4: "body": null crashed the original daemon.
TEST_F(CtlServer, BadBodiesAreAnsweredAndTheConnectionStays) {
  Start();
  Client c(config_.socket);
  ASSERT_TRUE(c.Send("{\"id\":1,\"method\":2,\"body\":null}\n"
                     "{\"id\":2,\"method\":2}\n"
                     "{\"id\":3,\"method\":8,\"body\":{\"name\":[]}}\n"
                     "{\"id\":4,\"method\":\"status\",\"body\":{}}\n"
                     "{\"id\":5,\"method\":2,\"body\":{}}\n"));
  EXPECT_EQ(c.Line(), R"({"id":1,"method":1,"body":{"msg":"invalid StatusRequest: body is null; )"
                      R"(expected an object","code":"invalid_argument"}})");
  EXPECT_EQ(c.Line(), R"({"id":2,"method":1,"body":{"msg":"invalid StatusRequest: body is missing",)"
                      R"("code":"invalid_argument"}})");
  EXPECT_EQ(c.Line(), R"({"id":3,"method":1,"body":{"msg":"invalid WarmTargetRequest: body.name: )"
                      R"(expected a string, got []","code":"invalid_argument"}})");
  EXPECT_EQ(c.Line(), R"({"id":4,"method":1,"body":{"msg":"invalid packet: method: expected an )"
                      R"(integer from 0 to 65535, got \"status\"","code":"invalid_argument"}})");
  auto status = c.Line();
  ASSERT_TRUE(status.has_value());
  EXPECT_EQ(status->rfind(R"({"id":5,"method":3,)", 0), 0u);
}

TEST_F(CtlServer, GarbageIsAnsweredThenTheConnectionCloses) {
  Start();
  {
    Client c(config_.socket);
    ASSERT_TRUE(c.Send("GET / HTTP/1.1\r\n\r\n"));
    EXPECT_EQ(c.Line(), R"({"id":0,"method":1,"body":{"msg":"invalid JSON: a packet must be an )"
                        R"(object, got 'G'","code":"protocol_error"}})");
    EXPECT_TRUE(c.ClosedByPeer());
  }
  {
    Client c(config_.socket);
    ASSERT_TRUE(c.Send("{\"id\":1,\"method\":2,\"body\":{}}\n{\"id\":2,\"method\":2,\"body\":{]}\n"));
    auto first = c.Line();
    ASSERT_TRUE(first.has_value());
    EXPECT_EQ(first->rfind(R"({"id":1,"method":3,)", 0), 0u);
    EXPECT_EQ(c.Line(),
              R"({"id":0,"method":1,"body":{"msg":"invalid JSON: parse error at line 1, column 28: )"
              R"(syntax error while parsing object key - unexpected ']'; expected string literal",)"
              R"("code":"protocol_error"}})");
    EXPECT_TRUE(c.ClosedByPeer());
  }
  {
    Client c(config_.socket);  // the server is still there
    ASSERT_TRUE(c.Send(Request(1, wire::StatusRequest{})));
    EXPECT_EQ(c.Line(), kSampleStatusLine);
  }
  Stop();
  // One line per connection problem.
  EXPECT_EQ(LogLines("ctl client broke the protocol").size(), 2u);
}

TEST_F(CtlServer, CborGarbageIsAnsweredInCbor) {
  Start(wire::Codec::kCbor);
  Client c(config_.socket);
  ASSERT_TRUE(c.Send("{\"id\":1,\"method\":2,\"body\":{}}\n"));  // JSON to a CBOR socket
  auto raw = c.Packet(wire::Codec::kCbor);
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(nlohmann::ordered_json::from_cbor(*raw).dump(),
            R"({"id":0,"method":1,"body":{"msg":"invalid CBOR: a packet must be a map, got initial )"
            R"('{'","code":"protocol_error"}})");
  EXPECT_TRUE(c.ClosedByPeer());
}

TEST_F(CtlServer, OversizedPacketClosesTheConnection) {
  Start();
  Client c(config_.socket);
  std::string line = R"({"id":1,"method":8,"body":{"name":")" + std::string(70 * 1024, 'a') + "\"}}\n";
  c.Send(line);  // may fail part-way: the server stops reading at 64 KiB
  EXPECT_EQ(c.Line(), R"({"id":0,"method":1,"body":{"msg":"packet is larger than 65536 bytes",)"
                      R"("code":"protocol_error"}})");
  EXPECT_TRUE(c.ClosedByPeer());
  EXPECT_TRUE(Eventually([&] { return server_->connection_count() == 0; }));
}

TEST_F(CtlServer, HundredPipelinedRequestsGetHundredResponsesInOrder) {
  Start();
  Client c(config_.socket);
  std::string batch;
  for (std::uint32_t id = 1; id <= 100; ++id) {
    batch += id % 2 == 1 ? Request(id, wire::StatusRequest{}) : Request(id, wire::WarmTargetRequest{"web"});
  }
  ASSERT_TRUE(c.Send(batch));
  for (std::uint32_t id = 1; id <= 100; ++id) {
    auto line = c.Line();
    ASSERT_TRUE(line.has_value()) << id;
    auto j = nlohmann::json::parse(*line);
    EXPECT_EQ(j["id"], id);
    EXPECT_EQ(j["method"], id % 2 == 1 ? 3 : 9);
  }
}

TEST_F(CtlServer, SecondRequestWithAnIdInFlightIsRefused) {
  Start();
  Client c(config_.socket);
  ASSERT_TRUE(c.Send(Request(5, wire::StatusRequest{}) + Request(5, wire::WarmTargetRequest{"web"})));
  EXPECT_EQ(c.Line(), std::string(kSampleStatusLine).replace(6, 1, "5"));
  EXPECT_EQ(c.Line(), R"({"id":5,"method":1,"body":{"msg":"existing request already in flight",)"
                      R"("code":"already_exists"}})");
  // Once answered, the id may be used again.
  ASSERT_TRUE(c.Send(Request(5, wire::DrainTargetRequest{"web"})));
  EXPECT_EQ(c.Line(), R"({"id":5,"method":11,"body":{}})");
}

TEST_F(CtlServer, ClientThatNeverReadsIsCutOff) {
  Start();
  Client c(config_.socket);
  // Each status response is about 1 KiB; the server reads every request but
  // nobody reads the responses.
  std::string batch;
  for (std::uint32_t id = 1; id <= 100; ++id) batch += Request(id, wire::StatusRequest{});
  bool cut = false;
  for (int i = 0; i < 200 && !cut; ++i) cut = !c.Send(batch);
  EXPECT_TRUE(Eventually([&] { return server_->connection_count() == 0; }));
  Client other(config_.socket);  // the engine is unharmed
  ASSERT_TRUE(other.Send(Request(1, wire::StatusRequest{})));
  EXPECT_EQ(other.Line(), kSampleStatusLine);
  Stop();
  EXPECT_EQ(LogLines("ctl client is not reading its responses").size(), 1u);
}

TEST_F(CtlServer, HalfClosedClientStillGetsItsResponses) {
  Start();
  Client c(config_.socket);
  ASSERT_TRUE(c.Send(Request(1, wire::StatusRequest{}) + Request(2, wire::WarmTargetRequest{"web"})));
  c.ShutdownWrite();
  EXPECT_EQ(c.Line(), kSampleStatusLine);
  EXPECT_EQ(c.Line(), R"({"id":2,"method":9,"body":{}})");
  EXPECT_TRUE(c.ClosedByPeer());
}

// B3: an accept error (EMFILE here) crashed the original daemon.
TEST_F(CtlServer, KeepsAcceptingAfterAcceptErrors) {
  ServerLimits limits;
  limits.accept_retry = 20ms;
  Start(wire::Codec::kJson, limits);
  Client c(config_.socket, /*connect=*/false);  // its fd exists before the limit
  rlimit old{};
  ASSERT_EQ(::getrlimit(RLIMIT_NOFILE, &old), 0);
  // Every descriptor below the limit is taken: accept() fails with EMFILE.
  const int lowest_free = ::dup(0);
  ASSERT_GE(lowest_free, 0);
  rlimit low = old;
  low.rlim_cur = static_cast<rlim_t>(lowest_free) + 1;
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &low), 0);
  const bool connected = c.Connect();  // queued in the backlog
  std::this_thread::sleep_for(200ms);  // several failed accepts
  ASSERT_EQ(::setrlimit(RLIMIT_NOFILE, &old), 0);
  ::close(lowest_free);
  ASSERT_TRUE(connected);
  ASSERT_TRUE(c.Send(Request(1, wire::StatusRequest{})));
  EXPECT_EQ(c.Line(), kSampleStatusLine);
  Stop();
  auto failed = LogLines("ctl socket: accept failed; retrying in 20ms");
  ASSERT_EQ(failed.size(), 1u);  // not one per retry
  EXPECT_NE(failed[0].find("error=\"Too many open files\""), std::string::npos) << failed[0];
  EXPECT_EQ(LogLines("ctl socket: accepting connections again").size(), 1u);
}

TEST_F(CtlServer, ConnectionsBeyondTheLimitAreClosed) {
  ServerLimits limits;
  limits.max_connections = 2;
  Start(wire::Codec::kJson, limits);
  Client a(config_.socket), b(config_.socket);
  ASSERT_TRUE(Eventually([&] { return server_->connection_count() == 2; }));
  Client c(config_.socket);
  EXPECT_TRUE(c.ClosedByPeer());
  ASSERT_TRUE(a.Send(Request(1, wire::StatusRequest{})));
  EXPECT_EQ(a.Line(), kSampleStatusLine);
}

TEST_F(CtlServer, CloseEndsConnectionsAndRemovesTheSocket) {
  Start();
  Client c(config_.socket);
  ASSERT_TRUE(c.Send(Request(1, wire::StatusRequest{})));
  EXPECT_EQ(c.Line(), kSampleStatusLine);
  Stop();
  EXPECT_FALSE(std::filesystem::exists(config_.socket));
  EXPECT_TRUE(c.ClosedByPeer());
  Client late(config_.socket);
  EXPECT_FALSE(late.connected());
}

// The plugin as the engine loads it.
class CtlPlugin : public CtlServer {
 protected:
  // Loads the plugin with `yaml` as the config file's text; returns the
  // errors as the engine prints them.
  // With `yaml` empty, the config has no plugins.ctl section.
  std::vector<std::string> Load(const std::string& yaml, bool start) {
    const config::Options* options = nullptr;
    if (!yaml.empty()) {
      root_ = YAML::Load(yaml);
      options_.node = root_["plugins"]["ctl"];
      options_.path = "plugins.ctl";
      options_.location = config::LocationOf(options_.node);
      options = &options_;
    }
    std::vector<config::ConfigError> errs;
    config::ErrorSink sink("proxygw.yaml", &errs);
    engine::PluginContext ctx{io_, control_, cfg_, options, "ctl", engine::Logger()};
    engine::Namespace ns;
    proxygw_plugin_ctl.load(ctx, ns, sink, start, &instance_);
    EXPECT_TRUE(ns.frontends.empty());
    EXPECT_TRUE(ns.targets.empty());
    std::vector<std::string> out;
    for (const auto& e : errs) out.push_back(e.ToString());
    EXPECT_EQ(instance_ != nullptr, start && out.empty() && options != nullptr);
    return out;
  }
  std::string Yaml() { return "plugins:\n  ctl:\n    socket: " + config_.socket + "\n"; }

  YAML::Node root_;
  config::Config cfg_;
  config::Options options_;
  std::unique_ptr<engine::PluginInstance> instance_;
};

TEST_F(CtlPlugin, CheckOnlyTouchesNothing) {
  EXPECT_TRUE(Load(Yaml(), /*start=*/false).empty());
  EXPECT_FALSE(std::filesystem::exists(config_.socket));
}

// configs/README.md: plugins may be {}. The original required the section.
TEST_F(CtlPlugin, NoSectionNoSocket) {
  EXPECT_TRUE(Load("", /*start=*/false).empty());
  EXPECT_TRUE(Load("", /*start=*/true).empty());
  EXPECT_EQ(instance_, nullptr);
  EXPECT_FALSE(std::filesystem::exists(config_.socket));
  // A section without settings is a section without its socket.
  EXPECT_EQ(Load("plugins:\n  ctl: {}\n", /*start=*/false),
            std::vector<std::string>{
                "proxygw.yaml:2:8: plugins.ctl.socket: required field is missing"});
}

TEST_F(CtlPlugin, ServesUntilUnloadThenRemovesTheSocket) {
  ASSERT_TRUE(Load(Yaml() + "    mode: \"0600\"\n    codec: CBOR\n", /*start=*/true).empty());
  struct stat st {};
  ASSERT_EQ(::stat(config_.socket.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  RunLoop();
  Client c(config_.socket);
  ASSERT_TRUE(c.Send(wire::EncodePacket(wire::Codec::kCbor, 1, wire::WarmTargetRequest{"api"})));
  auto raw = c.Packet(wire::Codec::kCbor);
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(nlohmann::json::from_cbor(*raw).dump(), R"({"body":{},"id":1,"method":9})");
  io_.stop();
  thread_.join();
  instance_->Unload();  // B2: the original left the socket file behind
  EXPECT_FALSE(std::filesystem::exists(config_.socket));
  EXPECT_TRUE(c.ClosedByPeer());
  instance_.reset();
}

TEST_F(CtlPlugin, ReplacesAStaleSocketFile) {
  {
    common::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr = Addr(config_.socket);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  ASSERT_TRUE(std::filesystem::exists(config_.socket));
  EXPECT_TRUE(Load(Yaml(), /*start=*/true).empty());
  instance_->Unload();
}

TEST_F(CtlPlugin, RefusesASocketAnotherEngineServes) {
  Start();  // the other engine
  EXPECT_EQ(Load(Yaml(), /*start=*/true),
            std::vector<std::string>{"proxygw.yaml:3:13: plugins.ctl.socket: ctl socket \"" +
                                     config_.socket +
                                     "\" is in use: another proxygw-engine is running and "
                                     "accepting connections on it; stop it first"});
  Client c(config_.socket);  // the other one still serves
  ASSERT_TRUE(c.Send(Request(1, wire::StatusRequest{})));
  EXPECT_EQ(c.Line(), kSampleStatusLine);
}

TEST_F(CtlPlugin, RefusesToReplaceAFile) {
  std::ofstream(config_.socket) << "data\n";
  EXPECT_EQ(Load(Yaml(), /*start=*/true),
            std::vector<std::string>{"proxygw.yaml:3:13: plugins.ctl.socket: ctl socket \"" +
                                     config_.socket +
                                     "\": the path exists and is not a socket; refusing to "
                                     "replace it (remove it, or choose another path)"});
  EXPECT_TRUE(std::filesystem::is_regular_file(config_.socket));
}

TEST_F(CtlPlugin, ConfigErrorsAreLocated) {
  EXPECT_EQ(Load("plugins:\n  ctl:\n    socket: relative.sock\n    codec: xml\n    user: x\n",
                 /*start=*/true),
            (std::vector<std::string>{
                "proxygw.yaml:5:5: plugins.ctl: unknown key \"user\" (expected one of: socket, "
                "codec, mode)",
                "proxygw.yaml:3:13: plugins.ctl.socket: must be an absolute path, got "
                "\"relative.sock\"",
                "proxygw.yaml:4:12: plugins.ctl.codec: invalid codec \"xml\": expected \"json\" "
                "or \"cbor\""}));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/relative.sock"));
}

}  // namespace
}  // namespace ctl_plugin
