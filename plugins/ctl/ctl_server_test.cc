// The ctl server end to end: a real io_context on its own thread, a real Unix
// socket in a temporary directory, a FakeControl, and blocking clients
// (ctl_server_testing.h).
#include "plugins/ctl/ctl_server.h"

#include <fcntl.h>
#include <grp.h>
#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>

#include <chrono>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <thread>

#include "plugins/ctl/ctl_server_testing.h"
#include "plugins/ctl/socket_file.h"

namespace ctl_plugin {
namespace {

using namespace std::chrono_literals;

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

TEST_F(CtlServer, ReloadAnswersThePlanOrTheErrors) {
  Start();
  Client c(config_.socket);
  ASSERT_TRUE(c.Send(Request(1, wire::ReloadRequest{})));
  EXPECT_EQ(c.Line(),
            R"({"id":1,"method":257,"body":{"applied":true,"targets":{"added":["game"],)"
            R"("changed":["web"],"unchanged":["api"]},"frontends":{"added":["game"],)"
            R"("changed":["public"],"unchanged":["dns"]},"remapped":["api"]}})");
  control_.reload_report() = SampleReloadReport(/*refused=*/true);
  ASSERT_TRUE(c.Send(Request(2, wire::ReloadRequest{})));
  EXPECT_EQ(c.Line(),
            R"x({"id":2,"method":257,"body":{"applied":false,"errors":["/etc/proxygw/proxygw.yaml:)x"
            R"x(12:15: targets[1].idle_timeout: must be at least 1s, got \"0s\"","/etc/proxygw/)x"
            R"x(proxygw.yaml: netd.socket: changed from \"/run/a.sock\" to \"/run/b.sock\"; this )x"
            R"x(needs a restart of proxygw (the engine's connection to proxygw-netd is set up at )x"
            R"x(start)"]}})x");
  Stop();
  EXPECT_EQ(control_.calls(), (std::vector<std::string>{"reload", "reload"}));
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

// Bug: a client that connected and sent nothing held one of the 64
// connection slots for ever.
TEST_F(CtlServer, IdleConnectionsAreClosed) {
  ServerLimits limits;
  limits.connection.idle = 300ms;
  Start(wire::Codec::kJson, limits);
  Client idle(config_.socket);
  EXPECT_TRUE(idle.ClosedByPeer());
  EXPECT_TRUE(Eventually([&] { return server_->connection_count() == 0; }));
  Stop();
  EXPECT_EQ(LogLines("ctl client idle; closing the connection").size(), 1u);
}

// Bug: SO_PEERCRED was logged, not checked: the socket's mode was the only
// authorization, and a mode of 0666 let any local user drain every target.
TEST_F(CtlServer, APeerThatIsNotAllowedGetsPermissionDenied) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to connect as another user";
  config_.mode = 0666;
  ASSERT_EQ(::chmod(dir_.c_str(), 0755), 0);  // the socket's directory: open to all
  Start();
  // A child connects as uid/gid 65532, which neither the defaults nor the
  // lists allow, and reports the first line it gets.
  int pipe_fds[2];
  ASSERT_EQ(::pipe(pipe_fds), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(pipe_fds[0]);
    if (::setgroups(0, nullptr) != 0 || ::setgid(65532) != 0 || ::setuid(65532) != 0) _exit(2);
    Client c(config_.socket);
    c.Send(Request(1, wire::DrainTargetRequest{"web"}));
    std::string line = c.Line().value_or("(none)") + (c.ClosedByPeer() ? " closed" : " open");
    (void)!::write(pipe_fds[1], line.data(), line.size());
    _exit(0);
  }
  ::close(pipe_fds[1]);
  std::string got;
  char buf[512];
  for (ssize_t n; (n = ::read(pipe_fds[0], buf, sizeof buf)) > 0;) got.append(buf, n);
  ::close(pipe_fds[0]);
  int status = 0;
  ::waitpid(pid, &status, 0);
  EXPECT_EQ(
      got, R"x({"id":1,"method":1,"body":{"msg":"uid 65532 may not use the control socket: only )x"
           R"x(root, the engine's user and members of its group may (see plugins.ctl.allow_users )x"
           R"x(and allow_groups)","code":"permission_denied"}} closed)x");
  EXPECT_TRUE(OnLoop([&] { return control_.calls().empty(); }));
  Stop();
  EXPECT_EQ(LogLines("ctl request refused").size(), 1u);
  EXPECT_EQ(LogLines("ctl socket is world-writable").size(), 1u);
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

// The proxygw supervisor binds the socket as root and keeps it across engine
// restarts (issue 10): the engine serves it and leaves its file alone.
TEST_F(CtlServer, ServesAnInheritedSocketAndLeavesItsFile) {
  auto passed = ListenAt(config_.socket, 0660, 8);
  ASSERT_TRUE(passed.ok()) << passed.status().message();
  common::UniqueFd kept(::fcntl(passed->fd.get(), F_DUPFD_CLOEXEC, 0));  // the supervisor's copy
  auto s = Server::Start(io_, control_, engine::Logger(), config_, {}, std::move(passed->fd));
  ASSERT_TRUE(s.ok()) << s.status().message();
  server_ = std::move(s).value();
  RunLoop();
  EXPECT_EQ(LogLines("msg=\"ctl socket adopted\"").size(), 1u);
  {
    Client c(config_.socket);
    ASSERT_TRUE(c.Send(Request(1, wire::StatusRequest{})));
    EXPECT_EQ(c.Line(), kSampleStatusLine);
  }
  Stop();
  EXPECT_TRUE(std::filesystem::exists(config_.socket));
  // Clients queue on the supervisor's copy until the next engine.
  Client waiting(config_.socket);
  EXPECT_TRUE(waiting.connected());
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

}  // namespace
}  // namespace ctl_plugin
