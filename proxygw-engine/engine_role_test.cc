// The engine's HA role (docs/ha.md) with the fake dataplane and scripted
// handlers: the role at start, what a follower refuses, and what promotion and
// demotion ask of the targets. The per-target following: target_ha_test.cc.
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

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

}  // namespace
}  // namespace engine
