// A target's forwarding against the fake dataplane: never active without
// it, never inactive with it (B14, and issue 11's orders: an Enable that
// completes after the backend exited, a Disable that fails), retries that
// wait their back-off, and mappings netd would refuse.
#include <gtest/gtest.h>

#include <algorithm>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "proxygw-engine/target.h"
#include "proxygw-engine/testing/target_fixture.h"

namespace engine {
namespace {

using common::Status;
using testing::kUdp;
using testing::Yaml;
namespace asio = boost::asio;

class TargetForwardingTest : public testing::TargetTest {
 protected:
  std::size_t Enables() const {
    return static_cast<std::size_t>(
        std::count(dp_.calls.begin(), dp_.calls.end(), std::string("enable backend")));
  }
};

TEST_F(TargetForwardingTest, EnableFailureKeepsWarmingAndRetriesNeverActiveWithoutForwarding) {
  // B14: the original stayed active with an error when DNAT failed.
  Make(Yaml(kUdp));
  dp_.enable_result = Status::Unavailable("not connected to proxygw-netd");
  ASSERT_TRUE(target_->Warm().ok());
  ASSERT_TRUE(RunUntil([&] { return dp_.calls.size() >= 2; }, std::chrono::seconds(5)));
  EXPECT_EQ(target_->state(), TargetState::kWarming);
  EXPECT_EQ(target_->last_error(),
            "could not switch forwarding on, retrying: not connected to proxygw-netd");
  dp_.enable_result = Status::Ok();
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kActive; }));
  EXPECT_TRUE(target_->last_error().empty());
  EXPECT_EQ(script_.calls, std::vector<std::string>{"warm"});
}

TEST_F(TargetForwardingTest, DisableFailureKeepsItDrainingAndForwardingUntilTheRetryWorks) {
  // B14: the original went inactive while DNAT stayed on. (Until issue 11 it
  // went back to active, and only an idle drain tried again: a ctl drain of
  // a busy target was dropped.)
  Make(Yaml(kUdp));
  MakeActive();
  dp_.disable_result = Status::Unavailable("not connected to proxygw-netd");
  ASSERT_TRUE(target_->Drain("ctl").ok());
  Settle();
  EXPECT_EQ(target_->state(), TargetState::kDraining);
  EXPECT_EQ(target_->last_error(),
            "could not switch forwarding off, retrying: not connected to proxygw-netd");
  EXPECT_EQ(script_.calls, std::vector<std::string>{"warm"}) << "backend must keep running";
  EXPECT_EQ(dp_.enabled.count("backend"), 1u);
  dp_.disable_result = Status::Ok();
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  EXPECT_TRUE(dp_.enabled.empty());
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"warm", "drain"}));
  EXPECT_TRUE(target_->last_error().empty());
}

TEST_F(TargetForwardingTest, ABackendExitWithAFailedDisableStaysDrainingUntilForwardingIsOff) {
  // Issue 11 item 2: the failed Disable was only logged and the target went
  // inactive with its mapping on: clients were DNATed to a dead port.
  Make(Yaml(kUdp));
  MakeActive();
  dp_.disable_result = Status::Unavailable("not connected to proxygw-netd");
  target_->OnBackendExited("exit status 1");
  Settle();
  EXPECT_EQ(target_->state(), TargetState::kDraining);
  EXPECT_EQ(dp_.enabled.count("backend"), 1u);
  EXPECT_EQ(failed_, 0);
  dp_.disable_result = Status::Ok();
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  EXPECT_TRUE(dp_.enabled.empty());
  EXPECT_EQ(dp_.calls.back(), "flush 1");
  EXPECT_EQ(target_->last_error(), "backend exited: exit status 1");
  EXPECT_EQ(failed_, 1);
  EXPECT_EQ(script_.calls, std::vector<std::string>{"warm"}) << "nothing left to stop";
}

TEST_F(TargetForwardingTest, AnEnableInFlightWhenTheBackendExitsIsSwitchedOffAgain) {
  // Issue 11 item 2: the Enable completed into an inactive target and its
  // mapping stayed on.
  Make(Yaml(kUdp));
  dp_.async = true;
  ASSERT_TRUE(target_->Warm().ok());
  ASSERT_TRUE(RunUntil([&] { return !dp_.pending.empty(); }));
  target_->OnBackendExited("exit status 1");
  EXPECT_EQ(target_->state(), TargetState::kDraining) << "forwarding may be going on";
  ASSERT_TRUE(dp_.Complete("enable backend"));
  EXPECT_EQ(target_->state(), TargetState::kDraining);
  ASSERT_TRUE(dp_.Complete("disable backend"));
  ASSERT_TRUE(dp_.Complete("flush 1"));
  EXPECT_EQ(target_->state(), TargetState::kInactive);
  EXPECT_TRUE(dp_.enabled.empty());
  EXPECT_EQ(target_->last_error(), "backend exited: exit status 1");
  EXPECT_EQ(failed_, 1);
  EXPECT_EQ(changes_, (std::vector<std::string>{"warming", "draining", "inactive"}));
}

TEST_F(TargetForwardingTest, FlowPushesDoNotBypassTheEnableBackoff) {
  // Issue 11 item 3: every flow push retried a failed Enable at once.
  Make(Yaml(kUdp));
  dp_.enable_result = Status::Unavailable("netd: kernel: Device or resource busy");
  ASSERT_TRUE(target_->Warm().ok());
  ASSERT_TRUE(RunUntil([&] { return Enables() == 1; }));
  for (std::uint32_t i = 1; i <= 50; ++i) dp_.SetFlows(ipc::netd::Proto::kUdp, "198.18.9.9:1", i);
  Settle();
  EXPECT_EQ(Enables(), 1u);
  EXPECT_EQ(target_->state(), TargetState::kWarming);
}

TEST_F(TargetForwardingTest, AReconnectRetriesAWaitingEnableAtOnceButOnlyOnce) {
  Make(Yaml(kUdp));
  dp_.enable_result = Status::Unavailable("not connected to proxygw-netd");
  ASSERT_TRUE(target_->Warm().ok());
  ASSERT_TRUE(RunUntil([&] { return Enables() == 1; }));
  dp_.SetConnected(false);
  dp_.SetConnected(true);
  Settle();
  EXPECT_EQ(Enables(), 2u);
  for (std::uint32_t i = 1; i <= 50; ++i) dp_.SetFlows(ipc::netd::Proto::kUdp, "198.18.9.9:1", i);
  RunUntil([] { return false; }, std::chrono::milliseconds(500));
  EXPECT_EQ(Enables(), 2u) << "the next retry waits its back-off (2 s)";
  dp_.enable_result = Status::Ok();
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kActive; }));
}

TEST_F(TargetForwardingTest, AMappingNetdWouldRefuseFailsTheWarmAndStopsTheBackend) {
  // Issue 11 item 3: a refused mapping was retried for ever (and each try
  // cost every target netd's connection).
  Make(Yaml(kUdp));
  dp_.enable_result =
      Status::InvalidArgument("2 mappings; the limit is 1 (proxygw-netd --max-mappings)");
  ASSERT_TRUE(target_->Warm().ok());
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  EXPECT_EQ(target_->last_error(),
            "netd would refuse the target's mappings: 2 mappings; the limit is 1 "
            "(proxygw-netd --max-mappings)");
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"warm", "drain"}));
  EXPECT_EQ(failed_, 1);
  RunUntil([] { return false; }, std::chrono::milliseconds(1200));
  EXPECT_EQ(Enables(), 1u) << "not retried";
}

TEST_F(TargetForwardingTest, AnActiveTargetASyncLeftOutWindsDown) {
  Make(Yaml(kUdp));
  MakeActive();
  dp_.enabled.clear();  // the sync left it out
  dp_.listener.refused("backend", Status::InvalidArgument("3 mappings; the limit is 2"));
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  EXPECT_EQ(target_->last_error(),
            "netd would refuse the target's mappings: 3 mappings; the limit is 2");
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"warm", "drain"}));
  EXPECT_EQ(dp_.calls.back(), "flush 1") << "its flows go, as in a drain";
  EXPECT_EQ(failed_, 1);
}

TEST_F(TargetForwardingTest, AnEnableRetryOfAnEndedWarmDoesNotSwitchOnTheNextOne) {
  // Issue 11 item 4: `enable_waiting` survived a backend exit, so the first
  // flow push after the next warm switched forwarding on before the new
  // backend had passed readiness.
  asio::ip::tcp::acceptor listener(io_, {asio::ip::make_address("127.0.0.1"), 0});
  auto port = listener.local_endpoint().port();
  Make(Yaml("{name: e, protocol: tcp, address: '127.0.0.1:" + std::to_string(port) + "'}", "30s",
            "30s"));
  dp_.enable_result = Status::Unavailable("not connected to proxygw-netd");
  ASSERT_TRUE(target_->Warm().ok());
  ASSERT_TRUE(RunUntil([&] { return Enables() == 1; }));
  target_->OnBackendExited("exit status 1");
  ASSERT_EQ(target_->state(), TargetState::kInactive);
  listener.close();  // the next backend is not ready
  dp_.enable_result = Status::Ok();
  ASSERT_TRUE(target_->Warm().ok());
  Settle();
  dp_.SetFlows(ipc::netd::Proto::kUdp, "198.18.9.9:1", 1);
  RunUntil([] { return false; }, std::chrono::milliseconds(300));
  EXPECT_EQ(Enables(), 1u) << "forwarding went on before readiness";
  EXPECT_EQ(target_->state(), TargetState::kWarming);
  EXPECT_TRUE(dp_.enabled.empty());
}

}  // namespace
}  // namespace engine
