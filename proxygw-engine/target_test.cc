// The target state machine against a fake dataplane and scripted handlers:
// every transition, failure and race of the original's engine tests
// (upstream-behaviour.md section 14, intents 20-22) and of its bugs we fix
// (B1 idle clock, B13 readiness and exits), and issue 11's stale flags.
// Forwarding's own failures and orders: target_forwarding_test.cc.
#include "proxygw-engine/target.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "proxygw-engine/testing/target_fixture.h"

namespace engine {
namespace {

using common::Status;
using testing::kUdp;
using testing::TargetTest;
using testing::Yaml;
namespace asio = boost::asio;

TEST_F(TargetTest, WarmsThenEnablesAndIsActive) {
  Make(Yaml(kUdp));
  EXPECT_EQ(target_->state(), TargetState::kInactive);
  ASSERT_TRUE(target_->Warm().ok());
  EXPECT_EQ(target_->state(), TargetState::kWarming);
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kActive; }));
  EXPECT_EQ(script_.calls, std::vector<std::string>{"warm"});
  EXPECT_EQ(dp_.calls, std::vector<std::string>{"enable backend"});
  EXPECT_EQ(changes_, (std::vector<std::string>{"warming", "active"}));
  EXPECT_TRUE(target_->last_error().empty());
}

TEST_F(TargetTest, AThousandWarmSignalsWarmOnce) {
  Make(Yaml(kUdp));
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(target_->Warm().ok());
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kActive; }));
  for (int i = 0; i < 1000; ++i) EXPECT_TRUE(target_->Warm().ok());
  Settle();
  EXPECT_EQ(script_.calls, std::vector<std::string>{"warm"});
}

TEST_F(TargetTest, WarmFailureReturnsToInactiveWithTheError) {
  Make(Yaml(kUdp));
  script_.result = Status::IoError("start /bin/sh -c x: No such file");
  ASSERT_TRUE(target_->Warm().ok());
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  EXPECT_EQ(target_->last_error(), "warm failed: start /bin/sh -c x: No such file");
  EXPECT_EQ(failed_, 1);
  EXPECT_TRUE(dp_.calls.empty());
}

TEST_F(TargetTest, NotReadyInTimeGoesInactiveAndStopsTheBackend) {
  // A TCP endpoint nobody listens on: readiness times out.
  asio::ip::tcp::acceptor probe(io_, {asio::ip::make_address("127.0.0.1"), 0});
  auto port = probe.local_endpoint().port();
  probe.close();
  Make(Yaml("{name: e, protocol: tcp, address: '127.0.0.1:" + std::to_string(port) + "'}",
            "30s", "1s"));
  ASSERT_TRUE(target_->Warm().ok());
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"warm", "drain"}));
  EXPECT_EQ(target_->last_error().rfind("not ready in time: endpoint 127.0.0.1:", 0), 0u)
      << target_->last_error();
  EXPECT_NE(target_->last_error().find("did not accept connections within 1s"), std::string::npos);
  EXPECT_EQ(failed_, 1);
  EXPECT_TRUE(dp_.calls.empty()) << "forwarding must not go on for a backend that is not ready";
}

TEST_F(TargetTest, ReadyWhenTheTcpEndpointAccepts) {
  asio::ip::tcp::acceptor listener(io_, {asio::ip::make_address("127.0.0.1"), 0});
  auto port = listener.local_endpoint().port();
  Make(Yaml("{name: e, protocol: tcp, address: '127.0.0.1:" + std::to_string(port) + "'}"));
  MakeActive();
  EXPECT_EQ(dp_.calls, std::vector<std::string>{"enable backend"});
}

TEST_F(TargetTest, DrainSwitchesOffFlushesThenStopsTheBackend) {
  Make(Yaml(kUdp));
  MakeActive();
  ASSERT_TRUE(target_->Drain("ctl").ok());
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  EXPECT_EQ(dp_.calls, (std::vector<std::string>{"enable backend", "disable backend", "flush 1"}));
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"warm", "drain"}));
  EXPECT_EQ(failed_, 0);
}

TEST_F(TargetTest, RequestsRefusedInTheWrongState) {
  Make(Yaml(kUdp));
  script_.auto_complete = false;
  ASSERT_TRUE(target_->Warm().ok());
  script_.Complete();
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kActive; }));
  ASSERT_TRUE(target_->Drain("ctl").ok());
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kDraining && !script_.pending.empty(); }));
  EXPECT_EQ(target_->Warm().message(), "target backend is draining; warm it again once it is inactive");
  EXPECT_TRUE(target_->Drain("ctl").ok());  // already draining: nothing to do
  script_.Complete();
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  EXPECT_TRUE(target_->Drain("ctl").ok());  // inactive: nothing to do
}

TEST_F(TargetTest, IdleClockStartsWhenActiveNotAtCreation) {
  // B1: the original drained a freshly warmed target at its next poll.
  Make(Yaml(kUdp, "2s"));
  // A long time "passes" before the warm: irrelevant, the clock starts at activation.
  MakeActive();
  auto active_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  EXPECT_GE(std::chrono::steady_clock::now() - active_at, std::chrono::milliseconds(1900));
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"warm", "drain"}));
}

TEST_F(TargetTest, FlowsHoldOffTheIdleDrainAndItsClockRestartsAtZero) {
  Make(Yaml(kUdp, "1s"));
  MakeActive();
  dp_.SetFlows(ipc::netd::Proto::kUdp, "198.18.2.2:8080", 2);
  EXPECT_EQ(target_->flows(), 2u);
  // Well past idle_timeout with flows: still active.
  RunUntil([] { return false; }, std::chrono::milliseconds(1500));
  EXPECT_EQ(target_->state(), TargetState::kActive);
  dp_.SetFlows(ipc::netd::Proto::kUdp, "198.18.2.2:8080", 0);
  auto zero_at = std::chrono::steady_clock::now();
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  EXPECT_GE(std::chrono::steady_clock::now() - zero_at, std::chrono::milliseconds(900));
}

TEST_F(TargetTest, NoIdleDrainWhileTheDataplaneIsUnreachable) {
  Make(Yaml(kUdp, "1s"));
  MakeActive();
  dp_.SetConnected(false);
  RunUntil([] { return false; }, std::chrono::milliseconds(2500));
  EXPECT_EQ(target_->state(), TargetState::kActive) << "flow counts are unknown: never drain blind";
  dp_.SetConnected(true);
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
}

// Bug: static:always only warmed at start and after failures, so its
// target drained after idle_timeout and never came back; the original kept it
// up. A kept-warm target never idles out; a drain by ctl still works.
TEST_F(TargetTest, AKeptWarmTargetDoesNotIdleOutButCanBeDrained) {
  Make(Yaml(kUdp, "1s"));
  target_->KeepWarm("always");
  MakeActive();
  RunUntil([] { return false; }, std::chrono::milliseconds(2500));
  EXPECT_EQ(target_->state(), TargetState::kActive);
  EXPECT_EQ(target_->kept_warm_by(), "always");
  ASSERT_TRUE(target_->Drain("ctl").ok());
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"warm", "drain"}));
}

TEST_F(TargetTest, BackendExitingOnItsOwnWhileActiveGoesInactive) {
  Make(Yaml(kUdp));
  MakeActive();
  target_->OnBackendExited("exit status 1");
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  EXPECT_EQ(target_->last_error(), "backend exited: exit status 1");
  EXPECT_EQ(dp_.calls, (std::vector<std::string>{"enable backend", "disable backend", "flush 1"}));
  EXPECT_EQ(failed_, 1);
}

TEST_F(TargetTest, CloseDuringABlockedWarmIsClosedAtOnceAndClosesAfterWarmReturns) {
  // Intent 21.
  Make(Yaml(kUdp));
  script_.auto_complete = false;
  ASSERT_TRUE(target_->Warm().ok());
  bool closed = false;
  target_->Close([&](Status) { closed = true; });
  EXPECT_EQ(target_->state(), TargetState::kClosed);
  Settle();
  EXPECT_EQ(script_.calls, std::vector<std::string>{"warm"}) << "close must wait for warm";
  EXPECT_FALSE(target_->Warm().ok());
  EXPECT_FALSE(target_->Drain("ctl").ok());
  script_.Complete();  // warm returns
  Settle();
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"warm", "close"}));
  EXPECT_EQ(target_->state(), TargetState::kClosed);
  EXPECT_FALSE(closed);
  script_.Complete();  // close returns
  EXPECT_TRUE(closed);
  EXPECT_EQ(target_->state(), TargetState::kClosed);
}

TEST_F(TargetTest, CloseDuringABlockedDrainWaitsForIt) {
  // Intent 22.
  Make(Yaml(kUdp));
  MakeActive();
  script_.auto_complete = false;
  ASSERT_TRUE(target_->Drain("ctl").ok());
  ASSERT_TRUE(RunUntil([&] { return !script_.pending.empty(); }));
  bool closed = false;
  target_->Close([&](Status) { closed = true; });
  EXPECT_EQ(target_->state(), TargetState::kClosed);
  Settle();
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"warm", "drain"}));
  script_.Complete();
  Settle();
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"warm", "drain", "close"}));
  script_.Complete();
  EXPECT_TRUE(closed);
}

TEST_F(TargetTest, CloseWhileActiveSwitchesOffThenClosesTheHandler) {
  // Intent 20: Close returns at once; the handler's close completes later.
  Make(Yaml(kUdp));
  MakeActive();
  script_.auto_complete = false;
  bool closed = false;
  target_->Close([&](Status) { closed = true; });
  EXPECT_EQ(target_->state(), TargetState::kClosed);
  ASSERT_TRUE(RunUntil([&] { return !script_.pending.empty(); }));
  EXPECT_EQ(dp_.calls, (std::vector<std::string>{"enable backend", "disable backend", "flush 1"}));
  EXPECT_FALSE(closed);
  script_.Complete();
  EXPECT_TRUE(closed);
}

TEST_F(TargetTest, AdoptsAnActiveTargetAfterAnEngineRestart) {
  Make(Yaml(kUdp));
  target_->AdoptAtStart(/*was_active=*/true);
  EXPECT_EQ(target_->state(), TargetState::kActive);
  EXPECT_EQ(dp_.calls, std::vector<std::string>{"preset backend"});
  EXPECT_EQ(script_.calls, std::vector<std::string>{"adopt"});
}

TEST_F(TargetTest, AGoneBackendIsNotAdoptedAndALeftoverIsStopped) {
  Make(Yaml(kUdp));
  script_.adopt = false;
  target_->AdoptAtStart(/*was_active=*/true);
  EXPECT_EQ(target_->state(), TargetState::kInactive);
  EXPECT_TRUE(dp_.calls.empty());
  script_.adopt = true;
  script_.calls.clear();
  target_->AdoptAtStart(/*was_active=*/false);
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"adopt", "drain"}));
  EXPECT_EQ(target_->state(), TargetState::kInactive);
}

TEST_F(TargetTest, ALeftoverBackendIsStoppedBeforeAWarmStartsIt) {
  // Issue 11 item 4: AdoptAtStart stopped a leftover backend while a warm
  // could run beside it and pass readiness against the dying process.
  Make(Yaml(kUdp));
  script_.auto_complete = false;
  target_->AdoptAtStart(/*was_active=*/false);
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"adopt", "drain"}));
  ASSERT_TRUE(target_->Warm().ok());
  EXPECT_EQ(target_->state(), TargetState::kWarming);
  Settle();
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"adopt", "drain"}))
      << "warm waits for the stop";
  script_.Complete();  // the leftover stopped
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"adopt", "drain", "warm"}));
  script_.Complete();
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kActive; }));
}

TEST_F(TargetTest, AWarmingTargetStuckOnForwardingCanBeDrained) {
  // Issue 11 item 4: a target stuck warming (netd down) could not be
  // drained: ctl drain answered "warming".
  Make(Yaml(kUdp));
  dp_.enable_result = Status::Unavailable("not connected to proxygw-netd");
  ASSERT_TRUE(target_->Warm().ok());
  ASSERT_TRUE(RunUntil([&] { return !dp_.calls.empty(); }));
  ASSERT_TRUE(target_->Drain("ctl").ok());
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"warm", "drain"}));
  EXPECT_TRUE(target_->last_error().empty());
  EXPECT_EQ(failed_, 0);
  RunUntil([] { return false; }, std::chrono::milliseconds(1200));
  EXPECT_EQ(dp_.calls, std::vector<std::string>{"enable backend"}) << "its retry ended";
}

TEST_F(TargetTest, ADrainDuringABlockedWarmStopsTheBackendOnceTheWarmReturns) {
  Make(Yaml(kUdp));
  script_.auto_complete = false;
  ASSERT_TRUE(target_->Warm().ok());
  ASSERT_TRUE(target_->Drain("ctl").ok());
  EXPECT_EQ(target_->state(), TargetState::kDraining);
  EXPECT_EQ(target_->Warm().message(),
            "target backend is draining; warm it again once it is inactive");
  script_.Complete();  // the warm returns: no readiness wait, no forwarding
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"warm", "drain"}));
  script_.Complete();
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  EXPECT_TRUE(dp_.calls.empty());
}

TEST_F(TargetTest, ADrainDuringTheReadinessWaitEndsIt) {
  asio::ip::tcp::acceptor probe(io_, {asio::ip::make_address("127.0.0.1"), 0});
  auto port = probe.local_endpoint().port();
  probe.close();
  Make(Yaml("{name: e, protocol: tcp, address: '127.0.0.1:" + std::to_string(port) + "'}", "30s",
            "30s"));
  ASSERT_TRUE(target_->Warm().ok());
  RunUntil([] { return false; }, std::chrono::milliseconds(100));
  ASSERT_TRUE(target_->Drain("ctl").ok());
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"warm", "drain"}));
  EXPECT_TRUE(target_->last_error().empty());
  EXPECT_TRUE(dp_.calls.empty());
}

TEST_F(TargetTest, FlowsKeepTheLastKnownCountWhileTheDataplaneIsDisconnected) {
  Make(Yaml(kUdp));
  MakeActive();
  dp_.SetFlows(ipc::netd::Proto::kUdp, "198.18.2.2:8080", 2);
  dp_.flows.clear();  // a disconnected dataplane knows no counts
  dp_.SetConnected(false);
  EXPECT_EQ(target_->flows(), 2u);
  dp_.SetConnected(true);
  EXPECT_EQ(target_->flows(), 0u);
}

}  // namespace
}  // namespace engine
