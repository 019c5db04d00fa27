// Kernel tests of FlowTracker's events (proxygw-netd's conntrack view): NEW
// and DESTROY of netd's flows, the kernel's mark filter, overruns. The
// binary's main (tests/support/netns_test_main.cc) has already moved the
// process into a fresh network namespace, so these tests create, delete and
// flush conntrack entries freely with ctnetlink (NFCT_Q_CREATE with DNAT
// attributes gives real IPS_DST_NAT entries whose reply source is the
// "backend"); the fixture is in proxygw-netd/testing/conntrack_fixture.h.
#include <arpa/inet.h>
#include <netinet/in.h>

#include "proxygw-netd/flow_tracker.h"

#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "common/c_handles.h"
#include "proxygw-netd/testing/conntrack_fixture.h"

namespace {

using netd::testing::Ap;
using netd::testing::Describe;
using netd::testing::FlowSpec;
using netd::testing::FlowTracker;
using netd::testing::kEventWait;
using netd::testing::kForeignMark;
using netd::testing::kMarkA;
using netd::testing::kMarkB;
using netd::testing::OpenTracker;
using netd::testing::ReadEventsUntil;
using netd::testing::ReadEventsUntilCount;
using netd::FlowEvent;
using netd::FlowEventType;
using netd::TrackedFlow;
using Tracker = netd::FlowTracker;
using Clock = std::chrono::steady_clock;

TEST_F(FlowTracker, OpenRejectsZeroMarkMask) {
  common::Result<std::unique_ptr<Tracker>> t = Tracker::Open(0);
  ASSERT_FALSE(t.ok());
  EXPECT_TRUE(t.status().IsInvalidArgument());
  EXPECT_EQ(t.status().message(),
            "FlowTracker: mark mask is 0; it must select at least one ct mark bit");
}

TEST_F(FlowTracker, ReportsNewEventsOfMarkedDnatFlowsV4AndV6) {
  std::unique_ptr<Tracker> tracker = OpenTracker();
  ASSERT_TRUE(tracker);
  const std::vector<FlowSpec> flows = {
      {IPPROTO_TCP, Ap("192.0.2.10:40001"), Ap("198.18.0.1:80"), kMarkA, Ap("10.0.1.2:8080")},
      {IPPROTO_UDP, Ap("192.0.2.10:40002"), Ap("198.18.0.1:53"), kMarkB | 0x7,
       Ap("10.0.1.3:5353")},
      {IPPROTO_TCP, Ap("[2001:db8::10]:40003"), Ap("[2001:db8:1::1]:443"), kMarkA,
       Ap("[fd00::2]:8443")},
      {IPPROTO_UDP, Ap("[2001:db8::10]:40004"), Ap("[2001:db8:1::1]:53"), kMarkB,
       Ap("[fd00::3]:5353")},
  };
  for (const FlowSpec& f : flows) Create(f);

  std::vector<FlowEvent> events = ReadEventsUntilCount(*tracker, flows.size());

  std::vector<FlowEvent> expected;
  for (const FlowSpec& f : flows) expected.push_back({FlowEventType::kNew, Expected(f)});
  // The mark is reported whole, bits outside the mask included.
  EXPECT_EQ(Describe(events), Describe(expected));
}

TEST_F(FlowTracker, SkipsFlowsWithMarkOutsideMaskOrWithoutDnat) {
  std::unique_ptr<Tracker> tracker = OpenTracker();
  ASSERT_TRUE(tracker);
  Create({IPPROTO_TCP, Ap("192.0.2.20:41001"), Ap("198.18.0.1:80"), 0, Ap("10.0.1.2:8080")});
  Create({IPPROTO_UDP, Ap("192.0.2.20:41002"), Ap("198.18.0.1:53"), kForeignMark,
          Ap("10.0.1.3:53")});
  Create({IPPROTO_TCP, Ap("192.0.2.20:41003"), Ap("198.18.0.1:80"), kMarkA, std::nullopt});
  Create({IPPROTO_UDP, Ap("[2001:db8::20]:41004"), Ap("[2001:db8:1::1]:53"), kMarkA,
          std::nullopt});
  // Events arrive in order: once this one is read, the others would have been.
  const FlowSpec sentinel{IPPROTO_TCP, Ap("192.0.2.20:41005"), Ap("198.18.0.1:80"), kMarkB,
                          Ap("10.0.1.4:8080")};
  Create(sentinel);

  std::vector<FlowEvent> events = ReadEventsUntil(*tracker, [&](const auto& evs) {
    return std::any_of(evs.begin(), evs.end(), [](const FlowEvent& e) {
      return e.flow.mark == kMarkB;
    });
  });

  const std::vector<FlowEvent> expected = {{FlowEventType::kNew, Expected(sentinel)}};
  EXPECT_EQ(Describe(events), Describe(expected));
}

// The BPF filter, not only the userspace check, drops the events of flows that
// are not ours: reading the event socket directly shows only the marked one.
TEST_F(FlowTracker, KernelFilterDropsEventsOfUnmarkedFlows) {
  std::unique_ptr<Tracker> tracker = OpenTracker();
  ASSERT_TRUE(tracker);
  const FlowSpec unmarked{IPPROTO_TCP, Ap("192.0.2.30:42001"), Ap("198.18.0.1:80"), 0,
                          Ap("10.0.1.2:8080")};
  const FlowSpec foreign{IPPROTO_UDP, Ap("[2001:db8::30]:42002"), Ap("[2001:db8:1::1]:53"),
                         kForeignMark, Ap("[fd00::3]:53")};
  Create(unmarked);
  Create(foreign);
  // DESTROY events of unmarked entries carry no CTA_MARK at all.
  Delete(unmarked);
  Delete(foreign);
  const FlowSpec sentinel{IPPROTO_UDP, Ap("192.0.2.30:42003"), Ap("198.18.0.1:53"), kMarkA,
                          Ap("10.0.1.3:53")};
  Create(sentinel);

  pollfd p{tracker->event_fd(), POLLIN, 0};
  ASSERT_EQ(poll(&p, 1, 5000), 1);
  std::vector<std::uint32_t> marks;  // one per datagram on the socket
  alignas(nlmsghdr) static unsigned char buf[65536];
  for (;;) {
    ssize_t n = recv(tracker->event_fd(), buf, sizeof(buf), MSG_DONTWAIT);
    if (n < 0) {
      ASSERT_EQ(errno, EAGAIN) << std::strerror(errno);
      break;
    }
    auto* nlh = reinterpret_cast<nlmsghdr*>(buf);
    ASSERT_TRUE(mnl_nlmsg_ok(nlh, static_cast<int>(n)));
    common::NfConntrack ct(nfct_new());
    ASSERT_EQ(nfct_nlmsg_parse(nlh, ct.get()), 0);
    marks.push_back(nfct_get_attr_u32(ct.get(), ATTR_MARK));
  }
  EXPECT_EQ(marks, std::vector<std::uint32_t>{kMarkA});
}

TEST_F(FlowTracker, ReportsDestroyWhenEntryIsDeleted) {
  std::unique_ptr<Tracker> tracker = OpenTracker();
  ASSERT_TRUE(tracker);
  const std::vector<FlowSpec> flows = {
      {IPPROTO_TCP, Ap("192.0.2.40:43001"), Ap("198.18.0.1:80"), kMarkA, Ap("10.0.1.2:8080")},
      {IPPROTO_UDP, Ap("[2001:db8::40]:43002"), Ap("[2001:db8:1::1]:53"), kMarkB,
       Ap("[fd00::3]:5353")},
  };
  std::vector<FlowEvent> expected;
  for (const FlowSpec& f : flows) {
    Create(f);
    expected.push_back({FlowEventType::kDestroy, Expected(f)});
  }
  ASSERT_EQ(ReadEventsUntilCount(*tracker, flows.size()).size(), flows.size());

  for (const FlowSpec& f : flows) Delete(f);
  std::vector<FlowEvent> events = ReadEventsUntilCount(*tracker, flows.size());

  EXPECT_EQ(Describe(events), Describe(expected));
}

// A tiny receive buffer and a burst of creates: the kernel drops events,
// ReadEvents says so, and a snapshot still has every flow.
TEST_F(FlowTracker, OverrunIsReportedAndSnapshotStillSeesEveryFlow) {
  // SO_RCVBUFFORCE doubles the value; the kernel's floor is about 2 KiB.
  std::unique_ptr<Tracker> tracker = OpenTracker(4096);
  ASSERT_TRUE(tracker);
  constexpr int kFlows = 3000;
  std::set<std::uint16_t> backend_ports;
  for (int i = 0; i < kFlows; ++i) {
    const std::string client =
        "192.0.2." + std::to_string(1 + i / 1000) + ":" + std::to_string(20000 + i % 1000);
    const std::uint16_t backend_port = static_cast<std::uint16_t>(30000 + i);
    const std::string backend = "10.0.1.2:" + std::to_string(backend_port);
    Create({i % 2 == 0 ? std::uint8_t{IPPROTO_TCP} : std::uint8_t{IPPROTO_UDP},
            Ap(client.c_str()), Ap("198.18.0.1:80"), kMarkA, Ap(backend.c_str())});
    if (HasFatalFailure()) return;
    backend_ports.insert(backend_port);
  }

  bool overrun = false;
  std::size_t delivered = 0;
  const auto deadline = Clock::now() + kEventWait;
  while (!overrun && Clock::now() < deadline) {
    common::Result<Tracker::ReadResult> r =
        tracker->ReadEvents([&](const FlowEvent&) { ++delivered; });
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    overrun = *r == Tracker::ReadResult::kOverrun;
    if (!overrun) {
      pollfd p{tracker->event_fd(), POLLIN, 0};
      poll(&p, 1, 100);
    }
  }
  ASSERT_TRUE(overrun) << "no overrun; " << delivered << " of " << kFlows << " events delivered";
  EXPECT_LT(delivered, static_cast<std::size_t>(kFlows));

  // What was still queued at the overrun was thrown away: nothing stale follows.
  std::size_t after = 0;
  common::Result<Tracker::ReadResult> r = tracker->ReadEvents([&](const FlowEvent&) { ++after; });
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(*r, Tracker::ReadResult::kDrained);
  EXPECT_EQ(after, 0u);

  common::Result<std::vector<TrackedFlow>> snap = tracker->Snapshot();
  ASSERT_TRUE(snap.ok()) << snap.status().ToString();
  std::set<std::uint16_t> seen;
  for (const TrackedFlow& f : *snap) {
    EXPECT_EQ(f.mark, kMarkA);
    seen.insert(f.destination.port);
  }
  EXPECT_EQ(snap->size(), static_cast<std::size_t>(kFlows));
  EXPECT_EQ(seen, backend_ports);
}

}  // namespace
