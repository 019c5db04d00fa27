#include "proxygw-netd/flow_counter.h"

#include <gtest/gtest.h>

namespace netd {
namespace {

using Clock = FlowCounter::Clock;
using common::AddrPort;

TrackedFlow F(std::uint32_t id, const char* dest, std::optional<std::uint32_t> timeout = 60,
              std::uint8_t proto = 6) {
  TrackedFlow f;
  f.id = id;
  f.mark = 0x10000;
  f.l4proto = proto;
  f.destination = *AddrPort::Parse(dest);
  f.timeout_s = timeout;
  return f;
}

std::map<std::string, std::uint32_t> Counts(const std::vector<ipc::netd::DestinationCount>& v) {
  std::map<std::string, std::uint32_t> m;
  for (const auto& c : v) m[std::string(ipc::netd::ProtoName(c.proto)) + " " + c.destination.ToString()] = c.flows;
  return m;
}

TEST(FlowCounter, CountsFlowsPerDestinationAndReportsChanges) {
  FlowCounter c;
  auto now = Clock::now();
  c.OnEvent({FlowEventType::kNew, F(1, "198.18.2.2:80")}, now);
  c.OnEvent({FlowEventType::kNew, F(2, "198.18.2.2:80")}, now);
  c.OnEvent({FlowEventType::kNew, F(3, "198.18.2.2:53", 30, 17)}, now);
  EXPECT_EQ(Counts(c.TakeChanges()),
            (std::map<std::string, std::uint32_t>{{"tcp 198.18.2.2:80", 2}, {"udp 198.18.2.2:53", 1}}));
  EXPECT_FALSE(c.has_changes());
  c.OnEvent({FlowEventType::kDestroy, F(1, "198.18.2.2:80")}, now);
  c.OnEvent({FlowEventType::kDestroy, F(3, "198.18.2.2:53", 0, 17)}, now);
  EXPECT_EQ(Counts(c.TakeChanges()),
            (std::map<std::string, std::uint32_t>{{"tcp 198.18.2.2:80", 1}, {"udp 198.18.2.2:53", 0}}));
  EXPECT_EQ(Counts(c.All()), (std::map<std::string, std::uint32_t>{{"tcp 198.18.2.2:80", 1}}));
}

TEST(FlowCounter, DuplicatesAndUnknownDestroysDoNotSkewCounts) {
  FlowCounter c;
  auto now = Clock::now();
  c.OnEvent({FlowEventType::kNew, F(7, "198.18.2.2:80")}, now);
  c.OnEvent({FlowEventType::kNew, F(7, "198.18.2.2:80")}, now);     // seen twice
  c.OnEvent({FlowEventType::kDestroy, F(99, "198.18.2.2:80")}, now);
  EXPECT_EQ(c.flows(), 1u);
  EXPECT_EQ(Counts(c.All()), (std::map<std::string, std::uint32_t>{{"tcp 198.18.2.2:80", 1}}));
}

TEST(FlowCounter, ResetReplacesEverythingAndMarksOldDestinationsChanged) {
  FlowCounter c;
  auto now = Clock::now();
  c.OnEvent({FlowEventType::kNew, F(1, "198.18.2.2:80")}, now);
  c.TakeChanges();
  c.Reset({F(2, "198.18.2.3:80"), F(3, "198.18.2.3:80")}, now);
  EXPECT_EQ(Counts(c.TakeChanges()),
            (std::map<std::string, std::uint32_t>{{"tcp 198.18.2.2:80", 0}, {"tcp 198.18.2.3:80", 2}}));
}

TEST(FlowCounter, ProbesAFlowJustAfterItsTimeoutAndNotBefore) {
  FlowCounter c;
  auto t0 = Clock::now();
  c.OnEvent({FlowEventType::kNew, F(2, "198.18.2.2:80", 60)}, t0);
  c.OnEvent({FlowEventType::kNew, F(1, "198.18.2.2:80", 5)}, t0);
  ASSERT_TRUE(c.NextDeadline().has_value());
  EXPECT_EQ(*c.NextDeadline(), t0 + std::chrono::seconds(5) + FlowCounter::kProbeSlack);
  EXPECT_TRUE(c.Due(t0 + std::chrono::seconds(5), 10).empty());
  auto due = c.Due(t0 + std::chrono::seconds(7), 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].id, 1u);
  // The probe found it alive with 3s left: look again after those.
  auto t1 = t0 + std::chrono::seconds(7);
  c.Reschedule(1, 3, t1);
  EXPECT_TRUE(c.Due(t1 + std::chrono::seconds(3), 10).empty());
  EXPECT_EQ(c.Due(t1 + std::chrono::seconds(5), 10).size(), 1u);
  // Gone: it stops counting and is not probed again. (Flow 2 was the only
  // one of its destination when it came: kLastFlowSlack.)
  c.Remove(1);
  EXPECT_EQ(*c.NextDeadline(), t0 + std::chrono::seconds(60) + FlowCounter::kLastFlowSlack);
  EXPECT_EQ(Counts(c.All()), (std::map<std::string, std::uint32_t>{{"tcp 198.18.2.2:80", 1}}));
}

// Bug (issue 10, item 3): flow counts that never reached zero. The kernel
// reports the time a conntrack entry has left in whole seconds, rounded
// down, so a probe in the entry's last second answers 0; netd took that for
// "no timeout given" and looked again only 30 s later. The kernel's garbage
// collector reaps the expired entries of a quiet table late (more than 15 s
// in the test that failed), so the closed flows kept counting and their
// target would never idle out.
TEST(FlowCounter, AFlowWithUnderASecondLeftIsProbedAgainASecondLater) {
  FlowCounter c;
  auto t0 = Clock::now();
  c.OnEvent({FlowEventType::kNew, F(9, "198.18.2.2:80", 60)}, t0);  // not the only one
  c.OnEvent({FlowEventType::kNew, F(1, "198.18.2.2:80", 5)}, t0);
  auto t1 = t0 + std::chrono::seconds(6);
  ASSERT_EQ(c.Due(t1, 10).size(), 1u);
  c.Reschedule(1, 0, t1);  // still there, with under a second left
  EXPECT_EQ(c.NextDeadline(), t1 + FlowCounter::kProbeSlack);
  EXPECT_EQ(c.Due(t1 + FlowCounter::kProbeSlack, 10).size(), 1u);
  // The same when a snapshot or an event says 0.
  c.Reset({F(3, "198.18.2.2:80", 60), F(2, "198.18.2.2:80", 0)}, t1);
  EXPECT_EQ(c.NextDeadline(), t1 + FlowCounter::kProbeSlack);
}

// Issue 17, goal 4: the flow that keeps its destination's count above 0 is
// looked at kLastFlowSlack (150 ms) after its time left, and that often in
// its last second, so the count reaches 0 within 0.15 s of its end, not 1 s.
TEST(FlowCounter, TheOnlyFlowOfADestinationIsProbedSoonAfterItsTimeLeft) {
  FlowCounter c;
  auto t0 = Clock::now();
  c.OnEvent({FlowEventType::kNew, F(1, "198.18.2.2:80", 5)}, t0);
  EXPECT_EQ(c.NextDeadline(), t0 + std::chrono::seconds(5) + FlowCounter::kLastFlowSlack);
  auto t1 = *c.NextDeadline();
  ASSERT_EQ(c.Due(t1, 10).size(), 1u);
  c.Reschedule(1, 0, t1);
  EXPECT_EQ(c.NextDeadline(), t1 + FlowCounter::kLastFlowSlack);
  EXPECT_TRUE(c.Due(t1 + FlowCounter::kLastFlowSlack - std::chrono::milliseconds(1), 10).empty());
}

// When the kernel gives no time left, or the probe failed, the flow is looked
// at again after kRecheck: no flow waits for a probe longer than its time
// left plus kProbeSlack, or kRecheck, so one whose DESTROY event was lost
// stops counting within that bound.
TEST(FlowCounter, AFlowWithNoTimeLeftKnownIsProbedAgainAfterTheRecheck) {
  FlowCounter c;
  auto t0 = Clock::now();
  c.OnEvent({FlowEventType::kNew, F(1, "198.18.2.2:80", std::nullopt)}, t0);
  EXPECT_EQ(c.NextDeadline(), t0 + FlowCounter::kRecheck);
  auto t1 = t0 + FlowCounter::kRecheck;
  c.Reschedule(1, std::nullopt, t1);  // the probe failed
  EXPECT_TRUE(c.Due(t1 + FlowCounter::kRecheck - std::chrono::milliseconds(1), 10).empty());
  EXPECT_EQ(c.Due(t1 + FlowCounter::kRecheck, 10).size(), 1u);
}

TEST(FlowCounter, DueIsBounded) {
  FlowCounter c;
  auto t0 = Clock::now();
  for (std::uint32_t i = 1; i <= 100; ++i) c.OnEvent({FlowEventType::kNew, F(i, "198.18.2.2:80", 1)}, t0);
  EXPECT_EQ(c.Due(t0 + std::chrono::seconds(10), 16).size(), 16u);
}

// A flow with more time left than its mapping's flow_timeout (committed by
// conntrackd after a failover: the kernel's defaults, 5 days for an
// established TCP connection) is due at once, to be re-timed, and then
// probed every kRecheck while it lives, since each packet refreshes it to the
// kernel's default again.
TEST(FlowCounter, AFlowOverItsFlowTimeoutIsDueAtOnceAndThenRecheckedWhileItLives) {
  FlowCounter c(0xff0000);
  c.SetFlowTimeout(0x10000, 30);
  auto t0 = Clock::now();
  c.OnEvent({FlowEventType::kNew, F(1, "198.18.2.2:80", 432000)}, t0);  // committed
  c.OnEvent({FlowEventType::kNew, F(2, "198.18.2.2:80", 30)}, t0);      // under the policy
  auto due = c.Due(t0, 10);
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].id, 1u);
  EXPECT_EQ(c.RetimeTo(due[0]), 30u);
  EXPECT_EQ(c.RetimeTo(F(2, "198.18.2.2:80", 30)), std::nullopt);
  EXPECT_TRUE(c.Retimed(1));
  EXPECT_FALSE(c.Retimed(1));  // only the first time counts
  c.Reschedule(1, 30, t0);
  EXPECT_EQ(c.NextDeadline(), t0 + FlowCounter::kRecheck);
  // No packet since: it runs down its 30 s, probed every kRecheck.
  auto t1 = t0 + FlowCounter::kRecheck;
  c.Reschedule(1, 25, t1);
  EXPECT_EQ(c.NextDeadline(), t1 + FlowCounter::kRecheck);
  // A packet refreshed it to the default: due at once again.
  auto t2 = t1 + FlowCounter::kRecheck;
  c.Reschedule(1, 431999, t2);
  EXPECT_EQ(c.NextDeadline(), t2);
  // A snapshot keeps what was re-timed.
  c.Reset({F(1, "198.18.2.2:80", 20), F(2, "198.18.2.2:80", 30)}, t2);
  EXPECT_EQ(c.NextDeadline(), t2 + FlowCounter::kRecheck);
  EXPECT_EQ(c.flows(), 2u);
}

// Marks outside the mask do not matter, and a mark with no installed mapping
// has no flow_timeout to cut to: its flows keep their time left.
TEST(FlowCounter, OnlyTheMappingsFlowTimeoutByMaskedMarkRetimes) {
  FlowCounter c(0xff0000);
  c.SetFlowTimeout(0x10000, 30);
  TrackedFlow other_bits = F(1, "198.18.2.2:80", 600);
  other_bits.mark = 0x10001;
  EXPECT_EQ(c.RetimeTo(other_bits), 30u);
  TrackedFlow unmapped = F(2, "198.18.2.2:80", 600);
  unmapped.mark = 0x20000;
  EXPECT_EQ(c.RetimeTo(unmapped), std::nullopt);
  c.SetFlowTimeout(0x10000, std::nullopt);
  EXPECT_EQ(c.RetimeTo(other_bits), std::nullopt);
  c.SetFlowTimeout(0x10000, 60);
  c.ClearFlowTimeouts();
  EXPECT_EQ(c.RetimeTo(other_bits), std::nullopt);
}

}  // namespace
}  // namespace netd
