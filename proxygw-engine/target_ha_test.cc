// A target on an HA node (docs/ha.md) against the fake dataplane and a
// scripted handler: following (mappings on while the backend answers its TCP
// probe or, without a TCP endpoint, its kind's check, off when it stops;
// never a warm, drain or stop), promotion (active without a warm, idle clock
// from then; probed once first when last seen down) and demotion (no
// drain).
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include "proxygw-engine/target.h"
#include "proxygw-engine/testing/target_fixture.h"

namespace engine {
namespace {

using testing::kUdp;
using testing::TargetTest;
using testing::Yaml;
namespace asio = boost::asio;
using Names = std::vector<std::string>;

class TargetHaTest : public TargetTest {
 protected:
  // A TCP endpoint on a local listener (which the test may close).
  std::string Listening(const std::string& idle = "30s") {
    listener_ = std::make_unique<asio::ip::tcp::acceptor>(
        io_, asio::ip::tcp::endpoint{asio::ip::make_address("127.0.0.1"), 0});
    port_ = listener_->local_endpoint().port();
    return Yaml("{name: e, protocol: tcp, address: '127.0.0.1:" + std::to_string(port_) + "'}",
                idle);
  }
  void FollowUntilLive() {
    target_->Follow();
    ASSERT_TRUE(RunUntil([&] { return target_->live() && !dp_.calls.empty(); }));
  }
  // A UDP-only target whose kind checks every 30 s, followed until its first
  // check has answered (`runs`).
  void FollowChecked(bool runs) {
    Make(Yaml(kUdp));
    script_.check_interval = std::chrono::seconds(30);
    if (!runs) script_.running = common::Status::Unavailable("check failed (exit status 1)");
    target_->Follow();
    ASSERT_TRUE(RunUntil([&] { return script_.checks == 1 && target_->live() == runs; }));
    Settle();
  }
  std::unique_ptr<asio::ip::tcp::acceptor> listener_;
  unsigned short port_ = 0;
};

TEST_F(TargetHaTest, AFollowerSwitchesForwardingOnWhileTheBackendAnswersAndOffWhenItStops) {
  Make(Listening());
  FollowUntilLive();
  EXPECT_TRUE(target_->following());
  EXPECT_EQ(target_->state(), TargetState::kInactive);
  EXPECT_EQ(dp_.calls, Names{"enable backend"});
  listener_->close();
  ASSERT_TRUE(RunUntil([&] { return !target_->live(); }, std::chrono::seconds(15)));
  ASSERT_TRUE(RunUntil([&] { return dp_.calls.size() == 3; }));
  EXPECT_EQ(dp_.calls, (Names{"enable backend", "disable backend", "flush 1"}));
  EXPECT_EQ(script_.calls, Names{"release"}) << "a follower never warms, drains or stops";
}

TEST_F(TargetHaTest, AFollowerRefusesWarmAndDrain) {
  Make(Yaml(kUdp));
  target_->Follow();
  EXPECT_EQ(target_->Warm().message(),
            "target backend: this node is not the HA master; the master decides warms and drains");
  EXPECT_TRUE(target_->Drain("ctl").IsUnavailable());
  Settle();
  EXPECT_EQ(script_.calls, Names{"release"});
  EXPECT_TRUE(dp_.calls.empty()) << "no TCP endpoint to probe: never followed as live";
}

TEST_F(TargetHaTest, PromotionMakesALiveTargetActiveWithoutAWarmAndStartsItsIdleClock) {
  Make(Listening("2s"));
  FollowUntilLive();
  target_->Lead();
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kActive; }));
  const auto promoted = std::chrono::steady_clock::now();
  EXPECT_FALSE(target_->following());
  EXPECT_EQ(script_.calls, (Names{"release", "take-over"})) << "no second start";
  EXPECT_EQ(dp_.calls, Names{"enable backend"});
  EXPECT_EQ(changes_, (Names{"active"}));
  // The master decides: idle_timeout after the promotion, it drains.
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  EXPECT_GE(std::chrono::steady_clock::now() - promoted, std::chrono::milliseconds(1900));
  EXPECT_EQ(script_.calls, (Names{"release", "take-over", "drain"}));
}

TEST_F(TargetHaTest, PromotionLeavesATargetWhoseBackendDoesNotAnswerInactive) {
  Make(Listening());
  listener_->close();  // refused: the probe never passes
  target_->Follow();
  testing::RunFor(io_, std::chrono::milliseconds(300));
  target_->Lead();
  // Probed once more first: the probe retries until its 2 s bound.
  EXPECT_TRUE(target_->promoting());
  ASSERT_TRUE(RunUntil([&] { return !target_->promoting(); }));
  EXPECT_EQ(target_->state(), TargetState::kInactive);
  EXPECT_EQ(script_.calls, Names{"release"});
  EXPECT_TRUE(dp_.calls.empty());
  // Warmed on demand, as any inactive target of a master.
  ASSERT_TRUE(target_->Warm().ok());
  Settle();
  EXPECT_EQ(script_.calls, (Names{"release", "warm"}));
}

// The old master started the backend after this node's last probe, then
// went: the promotion probe finds it running, and it is taken over, not
// started a second time.
TEST_F(TargetHaTest, PromotionProbesTcpEndpointsLastSeenDownAndTakesOverWhatNowAnswers) {
  Make(Listening());
  listener_->close();
  target_->Follow();
  testing::RunFor(io_, std::chrono::milliseconds(300));
  EXPECT_FALSE(target_->live());
  target_->Lead();
  listener_ = std::make_unique<asio::ip::tcp::acceptor>(
      io_, asio::ip::tcp::endpoint{asio::ip::make_address("127.0.0.1"), port_});
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kActive; }));
  EXPECT_FALSE(target_->promoting());
  EXPECT_EQ(script_.calls, (Names{"release", "take-over"})) << "no second start";
  EXPECT_EQ(dp_.calls, Names{"enable backend"});
}

// UDP-only targets: followed through their kind's check.

TEST_F(TargetHaTest, AUdpOnlyTargetIsFollowedThroughItsKindsCheck) {
  Make(Yaml(kUdp));
  script_.check_interval = std::chrono::seconds(1);
  target_->Follow();
  ASSERT_TRUE(RunUntil([&] { return target_->live() && !dp_.calls.empty(); }));
  EXPECT_EQ(dp_.calls, Names{"enable backend"});
  EXPECT_EQ(script_.checks, 1);
  // The backend stops: at the next check (one interval later) forwarding goes off.
  script_.running = common::Status::Unavailable("check failed (exit status 1)");
  const auto stopped = std::chrono::steady_clock::now();
  ASSERT_TRUE(RunUntil([&] { return !target_->live(); }, std::chrono::seconds(5)));
  EXPECT_GE(std::chrono::steady_clock::now() - stopped, std::chrono::milliseconds(500));
  ASSERT_TRUE(RunUntil([&] { return dp_.calls.size() == 3; }));
  EXPECT_EQ(dp_.calls, (Names{"enable backend", "disable backend", "flush 1"}));
  EXPECT_EQ(script_.checks, 2);
  EXPECT_EQ(script_.calls, Names{"release"}) << "a follower never warms, drains or stops";
}

TEST_F(TargetHaTest, PromotionOfALiveCheckedTargetTakesItOverWithoutAnotherCheck) {
  FollowChecked(/*runs=*/true);
  EXPECT_EQ(dp_.calls, Names{"enable backend"});
  target_->Lead();
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kActive; }));
  EXPECT_EQ(script_.checks, 1) << "live: decided at once";
  EXPECT_EQ(script_.calls, (Names{"release", "take-over"}));
}

TEST_F(TargetHaTest, PromotionChecksATargetLastSeenDownAndRefusesWarmsUntilTheAnswer) {
  FollowChecked(/*runs=*/false);
  // The master starts the backend, and goes before this node checks again.
  script_.check_auto = false;
  target_->Lead();
  EXPECT_TRUE(target_->promoting());
  common::Status warm = target_->Warm();
  EXPECT_TRUE(warm.IsUnavailable());
  EXPECT_EQ(warm.message(),
            "target backend: this node has just become the HA master and is probing whether the "
            "backend runs; it decides once the probe answers");
  EXPECT_EQ(target_->Drain("ctl").message(), warm.message());
  ASSERT_TRUE(RunUntil([&] { return !script_.checks_pending.empty(); }));
  EXPECT_EQ(script_.checks, 2);
  EXPECT_EQ(target_->state(), TargetState::kInactive);
  script_.AnswerCheck(common::Status::Ok());
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kActive; }));
  EXPECT_FALSE(target_->promoting());
  EXPECT_EQ(script_.calls, (Names{"release", "take-over"})) << "no second start";
  EXPECT_EQ(dp_.calls, Names{"enable backend"});
}

TEST_F(TargetHaTest, PromotionCheckFindingTheBackendDownLeavesItInactiveAndWarmable) {
  FollowChecked(/*runs=*/false);
  changes_.clear();
  target_->Lead();
  ASSERT_TRUE(RunUntil([&] { return !target_->promoting(); }));
  EXPECT_EQ(script_.checks, 2);
  EXPECT_EQ(target_->state(), TargetState::kInactive);
  // Said again once decided: the engine warms what it held back meanwhile.
  EXPECT_EQ(changes_, Names{"inactive"});
  EXPECT_EQ(script_.calls, Names{"release"});
  ASSERT_TRUE(target_->Warm().ok());
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kActive; }));
  EXPECT_EQ(script_.calls, (Names{"release", "warm"}));
}

TEST_F(TargetHaTest, DemotionDuringThePromotionProbeFollowsAgainAndIgnoresItsAnswer) {
  FollowChecked(/*runs=*/false);
  script_.check_auto = false;
  target_->Lead();
  ASSERT_TRUE(RunUntil([&] { return script_.checks == 2; }));
  target_->Follow();
  EXPECT_FALSE(target_->promoting());
  EXPECT_TRUE(target_->following());
  ASSERT_TRUE(RunUntil([&] { return script_.checks == 3; }));
  script_.AnswerCheck(common::Status::Ok());  // the promotion probe's: ignored
  Settle();
  EXPECT_EQ(target_->state(), TargetState::kInactive);
  EXPECT_FALSE(target_->live());
  EXPECT_EQ(script_.calls, (Names{"release", "release"})) << "never taken over";
  script_.AnswerCheck(common::Status::Ok());  // the follower's
  ASSERT_TRUE(RunUntil([&] { return target_->live(); }));
}

TEST_F(TargetHaTest, AUdpOnlyTargetIsFollowableOnlyWhenItsKindHasACheck) {
  Make(Yaml(kUdp));
  EXPECT_FALSE(target_->followable());
  script_.check_interval = std::chrono::seconds(30);
  EXPECT_TRUE(target_->followable());
}

TEST_F(TargetHaTest, ATargetWithATcpEndpointIsFollowable) {
  Make(Listening());
  EXPECT_TRUE(target_->followable());
}

TEST_F(TargetHaTest, DemotionStopsDecidingAtOnceWithoutADrainAndKeepsLiveForwarding) {
  Make(Listening("1s"));
  MakeActive();
  target_->Follow();
  EXPECT_EQ(target_->state(), TargetState::kInactive);
  ASSERT_TRUE(RunUntil([&] { return target_->live(); }));
  // Past the idle timeout: the idle clock stopped at the demotion.
  testing::RunFor(io_, std::chrono::milliseconds(1500));
  EXPECT_EQ(script_.calls, (Names{"warm", "release"})) << "no drain, no stop";
  EXPECT_EQ(dp_.calls, Names{"enable backend"}) << "forwarding stays on while the backend answers";
}

TEST_F(TargetHaTest, DemotionDuringAWarmEndsItWithoutAStop) {
  Make(Listening());
  script_.auto_complete = false;
  ASSERT_TRUE(target_->Warm().ok());
  target_->Follow();
  script_.Complete();  // the start the old master asked for returns
  ASSERT_TRUE(RunUntil([&] { return target_->live(); }));
  Settle();
  EXPECT_EQ(target_->state(), TargetState::kInactive);
  EXPECT_EQ(script_.calls, (Names{"warm", "release"}));
}

TEST_F(TargetHaTest, FollowAndLeadAreIgnoredOnceClosed) {
  Make(Yaml(kUdp));
  bool closed = false;
  target_->Close([&](common::Status) { closed = true; });
  ASSERT_TRUE(RunUntil([&] { return closed; }));
  target_->Follow();
  target_->Lead();
  EXPECT_EQ(target_->state(), TargetState::kClosed);
  EXPECT_FALSE(target_->following());
}

}  // namespace
}  // namespace engine
