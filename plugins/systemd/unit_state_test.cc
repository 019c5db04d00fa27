// What a unit's D-Bus states mean for its target, and the reasons a target
// reports when its unit goes away (pinned: they end up in last_error).
#include "plugins/systemd/unit_state.h"

#include <gtest/gtest.h>

namespace plugins::systemd {
namespace {

UnitState S(const char* load, const char* active, const char* sub, const char* result) {
  return UnitState{load, active, sub, result};
}

TEST(SystemdUnitState, UnknownUntilRead) {
  EXPECT_EQ(Classify(UnitState{}), UnitPhase::kUnknown);
  EXPECT_EQ(GoneReason("a.service", UnitState{}), std::nullopt);
}

TEST(SystemdUnitState, ActiveAndReloadingAreUp) {
  EXPECT_EQ(Classify(S("loaded", "active", "running", "success")), UnitPhase::kUp);
  EXPECT_EQ(Classify(S("loaded", "reloading", "reload", "success")), UnitPhase::kUp);
  // A unit whose file was removed while it runs still runs.
  EXPECT_EQ(Classify(S("not-found", "active", "running", "success")), UnitPhase::kUp);
}

TEST(SystemdUnitState, TransitionsAreWaitedFor) {
  EXPECT_EQ(Classify(S("loaded", "activating", "start", "success")), UnitPhase::kChanging);
  EXPECT_EQ(Classify(S("loaded", "deactivating", "stop-sigterm", "success")),
            UnitPhase::kChanging);
  // Restart= at work: systemd brings it back by itself.
  EXPECT_EQ(Classify(S("loaded", "activating", "auto-restart", "exit-code")),
            UnitPhase::kChanging);
  EXPECT_EQ(Classify(S("loaded", "maintenance", "", "")), UnitPhase::kChanging);
}

TEST(SystemdUnitState, KilledUnitFailsWithItsResult) {
  UnitState s = S("loaded", "failed", "failed", "signal");
  EXPECT_EQ(Classify(s), UnitPhase::kFailed);
  EXPECT_EQ(GoneReason("minecraft.service", s), "minecraft.service failed (result: signal)");
}

TEST(SystemdUnitState, StoppedUnitSaysSo) {
  UnitState s = S("loaded", "inactive", "dead", "success");
  EXPECT_EQ(Classify(s), UnitPhase::kStopped);
  EXPECT_EQ(GoneReason("minecraft.service", s), "minecraft.service stopped (result: success)");
  EXPECT_EQ(GoneReason("a.service", S("loaded", "inactive", "dead", "")), "a.service stopped");
}

TEST(SystemdUnitState, UnloadedUnitIsMissing) {
  UnitState s = S("not-found", "inactive", "dead", "success");
  EXPECT_EQ(Classify(s), UnitPhase::kMissing);
  EXPECT_EQ(GoneReason("gone.service", s), "gone.service not loaded (not-found)");
  EXPECT_EQ(Classify(S("masked", "inactive", "dead", "")), UnitPhase::kMissing);
}

TEST(SystemdUnitState, UpAndChangingUnitsAreNotGone) {
  EXPECT_EQ(GoneReason("a.service", S("loaded", "active", "running", "success")), std::nullopt);
  EXPECT_EQ(GoneReason("a.service", S("loaded", "activating", "start", "")), std::nullopt);
}

TEST(SystemdUnitState, DescribesForLogs) {
  EXPECT_EQ(Describe(UnitState{}), "unknown");
  EXPECT_EQ(Describe(S("loaded", "active", "running", "success")), "active (running)");
  EXPECT_EQ(Describe(S("loaded", "failed", "failed", "exit-code")),
            "failed (failed), result exit-code");
  EXPECT_EQ(Describe(S("not-found", "inactive", "dead", "")), "inactive (dead), not-found");
}

}  // namespace
}  // namespace plugins::systemd
