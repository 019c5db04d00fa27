// What a target counts for the metrics plugin (metrics.h): each warm, drain,
// failure and backend exit once, and a cold start only for a warm that
// became active. Driven as target_test.cc drives the state machine.
#include <gtest/gtest.h>

#include "proxygw-engine/metrics.h"
#include "proxygw-engine/target.h"
#include "proxygw-engine/testing/target_fixture.h"

namespace engine {
namespace {

using common::Status;
using testing::kUdp;
using testing::TargetTest;
using testing::Yaml;

TEST_F(TargetTest, CountsAWarmAndItsColdStartOnce) {
  Make(Yaml(kUdp));
  for (int i = 0; i < 100; ++i) ASSERT_TRUE(target_->Warm().ok());
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kActive; }));
  ASSERT_TRUE(target_->Warm().ok());
  const TargetCounters& c = target_->counters();
  EXPECT_EQ(c.warms, 1u);
  EXPECT_EQ(c.cold_start.count(), 1u);
  EXPECT_GE(c.cold_start.sum(), 0.0);
  EXPECT_EQ(c.drains, 0u);
  EXPECT_EQ(c.warm_failures, 0u);
  EXPECT_EQ(c.backend_exits, 0u);
}

TEST_F(TargetTest, CountsADrainAndAWarmAfterIt) {
  Make(Yaml(kUdp));
  MakeActive();
  ASSERT_TRUE(target_->Drain("ctl").ok());
  ASSERT_TRUE(target_->Drain("ctl").ok());  // draining: nothing to do, not counted
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  ASSERT_TRUE(target_->Drain("ctl").ok());  // inactive: not counted
  MakeActive();
  EXPECT_EQ(target_->counters().drains, 1u);
  EXPECT_EQ(target_->counters().warms, 2u);
  EXPECT_EQ(target_->counters().cold_start.count(), 2u);
}

TEST_F(TargetTest, CountsAnIdleDrain) {
  Make(Yaml(kUdp, "1s"));
  MakeActive();
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  EXPECT_EQ(target_->counters().drains, 1u);
}

TEST_F(TargetTest, CountsAFailedWarmWithoutAColdStart) {
  Make(Yaml(kUdp));
  script_.result = Status::IoError("start: No such file");
  ASSERT_TRUE(target_->Warm().ok());
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  EXPECT_EQ(target_->counters().warms, 1u);
  EXPECT_EQ(target_->counters().warm_failures, 1u);
  EXPECT_EQ(target_->counters().cold_start.count(), 0u);
}

TEST_F(TargetTest, CountsARefusedWarmAsAWarmFailure) {
  Make(Yaml(kUdp));
  dp_.enable_result = Status::InvalidArgument("netd: invalid: not allowed");
  ASSERT_TRUE(target_->Warm().ok());
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  EXPECT_EQ(target_->counters().warm_failures, 1u);
  EXPECT_EQ(target_->counters().cold_start.count(), 0u);
}

TEST_F(TargetTest, CountsABackendExitButNotAsAWarmFailure) {
  Make(Yaml(kUdp));
  MakeActive();
  target_->OnBackendExited("exit status 1");
  ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kInactive; }));
  target_->OnBackendExited("exit status 1");  // inactive: no backend to lose
  EXPECT_EQ(target_->counters().backend_exits, 1u);
  EXPECT_EQ(target_->counters().warm_failures, 0u);
  EXPECT_EQ(target_->counters().drains, 0u);
}

TEST_F(TargetTest, CountsIntoTheEnginesCountersWhenGiven) {
  // The engine hands each target its entry of Metrics, so that the counts
  // outlive the Target object.
  Metrics metrics;
  cfg_ = testing::LoadOk(Yaml(kUdp));
  Target::Hooks hooks;
  hooks.counters = &metrics.ForTarget("backend");
  Target t(io_, cfg_.targets[0], {}, dp_, Logger(), hooks);
  t.SetHandler(std::make_unique<testing::ScriptedTarget>(&script_));
  ASSERT_TRUE(t.Warm().ok());
  ASSERT_TRUE(RunUntil([&] { return t.state() == TargetState::kActive; }));
  ASSERT_NE(metrics.FindTarget("backend"), nullptr);
  EXPECT_EQ(metrics.FindTarget("backend")->warms, 1u);
  EXPECT_EQ(&t.counters(), metrics.FindTarget("backend"));
  EXPECT_EQ(metrics.FindTarget("other"), nullptr);
  EXPECT_EQ(metrics.FindFrontend("listener"), nullptr);
  ++metrics.ForFrontend("listener").knocks;
  EXPECT_EQ(metrics.FindFrontend("listener")->knocks, 1u);
}

}  // namespace
}  // namespace engine
