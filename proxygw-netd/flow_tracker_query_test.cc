// Kernel tests of FlowTracker's queries (proxygw-netd's conntrack view):
// filtered snapshots and flushes by mark. The binary's main
// (tests/support/netns_test_main.cc) has already moved the process into a
// fresh network namespace; the fixture is in
// proxygw-netd/testing/conntrack_fixture.h.
#include <arpa/inet.h>
#include <netinet/in.h>

#include "proxygw-netd/flow_tracker.h"

#include <memory>
#include <set>
#include <vector>

#include <gtest/gtest.h>

#include "proxygw-netd/testing/conntrack_fixture.h"

namespace {

using netd::testing::Ap;
using netd::testing::Describe;
using netd::testing::Entry;
using netd::testing::FlowSpec;
using netd::testing::FlowTracker;
using netd::testing::kForeignMark;
using netd::testing::kMarkA;
using netd::testing::kMarkB;
using netd::testing::OpenTracker;
using netd::TrackedFlow;
using Tracker = netd::FlowTracker;

TEST_F(FlowTracker, SnapshotReturnsExactlyTheMarkedDnatFlows) {
  std::unique_ptr<Tracker> tracker = OpenTracker();
  ASSERT_TRUE(tracker);
  const std::vector<FlowSpec> ours = {
      {IPPROTO_TCP, Ap("192.0.2.50:44001"), Ap("198.18.0.1:80"), kMarkA, Ap("10.0.1.2:8080")},
      {IPPROTO_UDP, Ap("192.0.2.50:44002"), Ap("198.18.0.1:53"), kMarkB, Ap("10.0.1.3:5353")},
      {IPPROTO_UDP, Ap("[2001:db8::50]:44003"), Ap("[2001:db8:1::1]:53"), kMarkA | 0x1,
       Ap("[fd00::3]:5353")},
      {IPPROTO_TCP, Ap("[2001:db8::50]:44004"), Ap("[2001:db8:1::1]:443"), kMarkB,
       Ap("[fd00::2]:8443")},
  };
  const std::vector<FlowSpec> others = {
      {IPPROTO_TCP, Ap("192.0.2.50:44011"), Ap("198.18.0.1:80"), 0, Ap("10.0.1.2:8080")},
      {IPPROTO_UDP, Ap("[2001:db8::50]:44012"), Ap("[2001:db8:1::1]:53"), kForeignMark,
       Ap("[fd00::3]:53")},
      {IPPROTO_TCP, Ap("192.0.2.50:44013"), Ap("198.18.0.1:80"), kMarkA, std::nullopt},
      {IPPROTO_UDP, Ap("[2001:db8::50]:44014"), Ap("[2001:db8:1::1]:53"), kMarkB, std::nullopt},
  };
  for (const FlowSpec& f : ours) Create(f);
  for (const FlowSpec& f : others) Create(f);
  ASSERT_EQ(DumpAll().size(), ours.size() + others.size());

  common::Result<std::vector<TrackedFlow>> snap = tracker->Snapshot();
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();

  std::vector<TrackedFlow> expected;
  for (const FlowSpec& f : ours) expected.push_back(Expected(f));
  EXPECT_EQ(Describe(*snap), Describe(expected));
}

TEST_F(FlowTracker, SnapshotOfEmptyTableIsEmpty) {
  std::unique_ptr<Tracker> tracker = OpenTracker();
  ASSERT_TRUE(tracker);
  common::Result<std::vector<TrackedFlow>> snap = tracker->Snapshot();
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  EXPECT_TRUE(snap->empty());
}

TEST_F(FlowTracker, FlushMarkDeletesExactlyTheFlowsWithThatMarkInBothFamilies) {
  std::unique_ptr<Tracker> tracker = OpenTracker();
  ASSERT_TRUE(tracker);
  const std::vector<FlowSpec> doomed = {
      {IPPROTO_TCP, Ap("192.0.2.60:45001"), Ap("198.18.0.1:80"), kMarkA, Ap("10.0.1.2:8080")},
      {IPPROTO_UDP, Ap("[2001:db8::60]:45002"), Ap("[2001:db8:1::1]:53"), kMarkA,
       Ap("[fd00::3]:5353")},
      // Bits outside the mask do not matter: (mark & mask) == kMarkA.
      {IPPROTO_UDP, Ap("192.0.2.60:45003"), Ap("198.18.0.1:53"), kMarkA | kForeignMark,
       Ap("10.0.1.3:5353")},
      // Neither does DNAT: the flush is by mark only.
      {IPPROTO_TCP, Ap("[2001:db8::60]:45004"), Ap("[2001:db8:1::1]:80"), kMarkA, std::nullopt},
  };
  const std::vector<FlowSpec> kept = {
      {IPPROTO_TCP, Ap("192.0.2.60:45011"), Ap("198.18.0.1:80"), kMarkB, Ap("10.0.1.2:8080")},
      {IPPROTO_UDP, Ap("[2001:db8::60]:45012"), Ap("[2001:db8:1::1]:53"), kMarkB,
       Ap("[fd00::3]:5353")},
      {IPPROTO_TCP, Ap("192.0.2.60:45013"), Ap("198.18.0.1:80"), 0, Ap("10.0.1.2:8080")},
      {IPPROTO_UDP, Ap("[2001:db8::60]:45014"), Ap("[2001:db8:1::1]:53"), kForeignMark,
       Ap("[fd00::3]:53")},
      {IPPROTO_TCP, Ap("192.0.2.60:45015"), Ap("198.18.0.1:80"), kMarkA | kMarkB,
       Ap("10.0.1.2:8080")},
  };
  for (const FlowSpec& f : doomed) Create(f);
  for (const FlowSpec& f : kept) Create(f);
  ASSERT_EQ(DumpAll().size(), doomed.size() + kept.size());

  common::Status s = tracker->FlushMark(kMarkA);
  ASSERT_TRUE(s.ok()) << s.ToString();

  std::set<std::uint16_t> left;
  for (const Entry& e : DumpAll()) left.insert(e.client_port);
  std::set<std::uint16_t> want;
  for (const FlowSpec& f : kept) want.insert(f.client.port);
  EXPECT_EQ(left, want);
}

TEST_F(FlowTracker, FlushMarkOfUnusedMarkSucceedsAndDeletesNothing) {
  std::unique_ptr<Tracker> tracker = OpenTracker();
  ASSERT_TRUE(tracker);
  Create({IPPROTO_TCP, Ap("192.0.2.70:46001"), Ap("198.18.0.1:80"), kMarkA, Ap("10.0.1.2:80")});
  Create({IPPROTO_UDP, Ap("192.0.2.70:46002"), Ap("198.18.0.1:53"), 0, Ap("10.0.1.3:53")});

  common::Status s = tracker->FlushMark(kMarkB);
  EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(DumpAll().size(), 2u);
}

TEST_F(FlowTracker, FlushMarkRejectsZeroAndBitsOutsideTheMask) {
  std::unique_ptr<Tracker> tracker = OpenTracker();
  ASSERT_TRUE(tracker);
  Create({IPPROTO_TCP, Ap("192.0.2.80:47001"), Ap("198.18.0.1:80"), 0, Ap("10.0.1.2:80")});

  common::Status zero = tracker->FlushMark(0);
  EXPECT_TRUE(zero.IsInvalidArgument());
  EXPECT_EQ(zero.message(),
            "FlowTracker: FlushMark(0x00000000): mark must be non-zero and inside the mark mask "
            "0x00ff0000");
  EXPECT_TRUE(tracker->FlushMark(kMarkA | kForeignMark).IsInvalidArgument());
  EXPECT_EQ(DumpAll().size(), 1u);  // the unmarked flow a flush of 0 would have hit
}

}  // namespace
