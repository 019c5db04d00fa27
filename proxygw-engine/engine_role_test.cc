// The engine's HA role (docs/ha.md) with the fake dataplane and scripted
// handlers: the role at start, what a follower refuses, what promotion and
// demotion ask of the targets, warm signals during a promotion probe, and
// the warning for a target a backup cannot follow. The per-target
// following: target_ha_test.cc.
#include <filesystem>
#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

#include "proxygw-engine/log.h"
#include "proxygw-engine/testing/engine_fixture.h"

namespace engine {
namespace {

using common::HaRole;
using testing::kFrontends;
using testing::Names;
using testing::Targets;
using testing::TestPlugin;

class EngineRoleTest : public testing::EngineTest {
 protected:
  std::string Role() const { return engine_->Status().role; }
  common::Status SetRole(HaRole r, HaRole* previous = nullptr) {
    common::Status st = engine_->SetRole(r, previous);
    Settle();
    return st;
  }
};

TEST_F(EngineRoleTest, WithoutAnHaSectionItIsMasterAndRefusesARole) {
  Start(Head() + Targets() + kFrontends);
  EXPECT_EQ(Role(), "") << "no role in the status without an ha section";
  common::Status st = SetRole(HaRole::kBackup);
  EXPECT_TRUE(st.IsInvalidArgument());
  EXPECT_EQ(st.message(),
            "this engine's config has no ha section; it is always master (see docs/ha.md)");
  WarmActive("a");
}

TEST_F(EngineRoleTest, AnHaNodeStartsAsBackupAndNeitherWarmsNorTakesOverAtStart) {
  Start(Head() + "ha: {}\n" + Targets() + kFrontends);
  EXPECT_EQ(Role(), "backup");
  common::Status st = engine_->Warm("a");
  EXPECT_TRUE(st.IsUnavailable());
  EXPECT_EQ(st.message(), "this node is the HA backup; the master decides warms and drains");
  EXPECT_TRUE(engine_->Drain("a").IsUnavailable());
  TestPlugin().warm["fa"]();  // a frontend's warm signal
  Settle();
  EXPECT_EQ(State("a"), "inactive");
  EXPECT_EQ(TargetCalls("a"), Names{"release"}) << "no adopt, no drain of leftovers, no warm";
}

TEST_F(EngineRoleTest, InitialRoleMasterDecidesAtOnce) {
  Start(Head() + "ha: {initial_role: master}\n" + Targets() + kFrontends);
  EXPECT_EQ(Role(), "master");
  WarmActive("a");
}

TEST_F(EngineRoleTest, DemotionStopsDecidingWithoutADrainAndPromotionDecidesAgain) {
  Start(Head() + "ha: {initial_role: master}\n" + Targets() + kFrontends);
  WarmActive("a");
  HaRole previous = HaRole::kFault;
  ASSERT_TRUE(SetRole(HaRole::kBackup, &previous).ok());
  EXPECT_EQ(previous, HaRole::kMaster);
  EXPECT_EQ(Role(), "backup");
  EXPECT_EQ(State("a"), "inactive");
  EXPECT_EQ(TargetCalls("a"), (Names{"adopt", "drain", "warm", "release"})) << "no drain";
  // Backup to fault: still following, nothing asked again.
  ASSERT_TRUE(SetRole(HaRole::kFault, &previous).ok());
  EXPECT_EQ(previous, HaRole::kBackup);
  EXPECT_EQ(TargetCalls("b"), (Names{"adopt", "drain", "release"}));
  // A UDP-only target has no endpoint to probe: not followed as live, so
  // promoted inactive, and warmed on demand.
  ASSERT_TRUE(SetRole(HaRole::kMaster, &previous).ok());
  EXPECT_EQ(previous, HaRole::kFault);
  EXPECT_EQ(State("a"), "inactive");
  WarmActive("a");
  EXPECT_EQ(TargetCalls("a"), (Names{"adopt", "drain", "warm", "release", "warm"}));
}

TEST_F(EngineRoleTest, TheSameRoleAgainIsNotAnError) {
  Start(Head() + "ha: {}\n" + Targets() + kFrontends);
  HaRole previous = HaRole::kMaster;
  ASSERT_TRUE(SetRole(HaRole::kBackup, &previous).ok());
  EXPECT_EQ(previous, HaRole::kBackup);
  EXPECT_EQ(TargetCalls("a"), Names{"release"});
}

TEST_F(EngineRoleTest, ARestartedEngineKeepsTheRoleItWasTold) {
  Start(Head() + "ha: {}\n" + Targets() + kFrontends);
  ASSERT_TRUE(SetRole(HaRole::kMaster).ok());
  WarmActive("a");
  bool done = false;
  engine_->Shutdown(Engine::ShutdownMode::kKeep, [&] { done = true; });
  ASSERT_TRUE(RunUntil([&] { return done; }));
  engine_.reset();
  testing::ResetTestPlugin(io_);
  Start(Head() + "ha: {}\n" + Targets() + kFrontends);
  EXPECT_EQ(Role(), "master");
  EXPECT_EQ(State("a"), "active") << "adopted, as without HA";
}

// After a reboot the recorded role is not the node's: a node that was master
// must not start as master (static:always would warm backends the other node
// runs) before keepalived says its role.
TEST_F(EngineRoleTest, ARoleRecordedInAnEarlierBootIsIgnored) {
  std::filesystem::create_directories(dir_ / "state");
  std::ofstream(dir_ / "state" / "target-_ha.json")
      << R"({"role": "master", "boot": "00000000-0000-0000-0000-000000000000"})";
  Start(Head() + "ha: {}\n" + Targets() + kFrontends);
  EXPECT_EQ(Role(), "backup") << "ha.initial_role, not the earlier boot's master";
}

// A backend the backup last saw down may have been started by the old master
// just before it went: the new master checks first, and a client's warm
// signal meanwhile waits for the answer instead of starting it a second time.
class EnginePromotionProbeTest : public EngineRoleTest {
 protected:
  void SetUp() override {
    EngineRoleTest::SetUp();
    TestPlugin().new_target = [](testing::ScriptedTarget::Script& s) {
      s.check_interval = std::chrono::seconds(30);
      s.running = common::Status::Unavailable("check failed (exit status 1)");
    };
    Start(Head() + "ha: {}\n" + Targets() + kFrontends);
    ASSERT_TRUE(RunUntil([&] { return A().checks == 1; }));
    A().check_auto = false;
    ASSERT_TRUE(SetRole(HaRole::kMaster).ok());
    ASSERT_TRUE(RunUntil([&] { return A().checks_pending.size() == 1; }));
    TestPlugin().warm["fa"]();  // a client asks while the probe runs
    Settle();
  }
  static testing::ScriptedTarget::Script& A() { return *TestPlugin().targets["a"].back(); }
};

TEST_F(EnginePromotionProbeTest, AWarmSignalWaitsAndWarmsWhenTheBackendDoesNotRun) {
  common::Status st = engine_->Warm("a");
  EXPECT_TRUE(st.IsUnavailable());
  EXPECT_EQ(st.message(),
            "target a: this node has just become the HA master and is probing whether the backend "
            "runs; it decides once the probe answers");
  EXPECT_EQ(TargetCalls("a"), Names{"release"}) << "no warm while the probe runs";
  A().AnswerCheck(common::Status::Unavailable("check failed (exit status 1)"));
  ASSERT_TRUE(RunUntil([&] { return State("a") == "active"; }));
  EXPECT_EQ(TargetCalls("a"), (Names{"release", "warm"}));
}

TEST_F(EnginePromotionProbeTest, AWarmSignalIsServedByTakingOverABackendThatRuns) {
  A().AnswerCheck(common::Status::Ok());
  ASSERT_TRUE(RunUntil([&] { return State("a") == "active"; }));
  ASSERT_TRUE(engine_->Drain("a").ok());
  ASSERT_TRUE(RunUntil([&] { return State("a") == "inactive"; }));
  Settle();
  EXPECT_EQ(TargetCalls("a"), (Names{"release", "take-over", "drain"}))
      << "the held warm signal was served by the take-over, not run after the drain";
}

class EngineHaWarningTest : public EngineRoleTest {
 protected:
  void TearDown() override {
    EngineRoleTest::TearDown();
    (void)SetUpLogging("stderr", config::LogLevel::kInfo);
  }
  std::string StartLogged(const std::string& ha) {
    const std::string log = (dir_ / "engine.log").string();
    EXPECT_TRUE(SetUpLogging(log, config::LogLevel::kInfo).ok());
    // a: UDP only, nothing to probe; b: a TCP endpoint.
    Start(Head() + ha +
          "targets:\n"
          "  - {name: a, kind: 'test:target', idle_timeout: 5m,\n"
          "     endpoints: [{name: e, protocol: udp, address: '198.18.2.2:7000'}]}\n"
          "  - {name: b, kind: 'test:target', idle_timeout: 5m,\n"
          "     endpoints: [{name: e, protocol: tcp, address: '198.18.2.3:7000'}]}\n" +
          kFrontends);
    std::ifstream in(log);
    return std::string(std::istreambuf_iterator<char>(in), {});
  }
};

TEST_F(EngineHaWarningTest, ATargetABackupCannotFollowIsNamedOnceAtLoad) {
  // Master: nothing is probed, but the warning is about failovers to come.
  std::string log = StartLogged("ha: {initial_role: master}\n");
  const std::string warning =
      "level=WARN msg=\"ha: a backup cannot tell whether this target's backend runs (no TCP "
      "endpoint, and its kind has no check): after a failover the new master starts it again at "
      "its first warm, even when it still runs; give it a TCP endpoint the backend opens, or, for "
      "static:exec, a check\" target=a kind=test:target";
  ASSERT_NE(log.find(warning), std::string::npos) << log;
  EXPECT_EQ(log.find(warning, log.find(warning) + 1), std::string::npos) << "once";
  EXPECT_EQ(log.find("target=b kind="), std::string::npos) << "b has a TCP endpoint";
}

TEST_F(EngineHaWarningTest, NoWarningWithoutAnHaSection) {
  std::string log = StartLogged("");
  EXPECT_EQ(log.find("a backup cannot tell"), std::string::npos) << log;
}

}  // namespace
}  // namespace engine
