// Kernel tests of FlowTracker (proxygw-netd's conntrack view). The binary's
// main (tests/support/netns_test_main.cc) has already moved the process into
// a fresh network namespace, so these tests create, delete and flush conntrack
// entries freely with ctnetlink (NFCT_Q_CREATE with DNAT attributes gives real
// IPS_DST_NAT entries whose reply source is the "backend").
#include <arpa/inet.h>
#include <netinet/in.h>

#include "proxygw-netd/flow_tracker.h"

#include <linux/netlink.h>
#include <poll.h>
#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>

#include "common/c_handles.h"
#include "common/net_address.h"

namespace {

using common::AddrPort;
using netd::FlowEvent;
using netd::FlowEventType;
using netd::TrackedFlow;
using Tracker = netd::FlowTracker;
using Clock = std::chrono::steady_clock;

constexpr std::uint32_t kMask = 0x00ff0000;
constexpr std::uint32_t kMarkA = 0x00010000;
constexpr std::uint32_t kMarkB = 0x00020000;
constexpr std::uint32_t kForeignMark = 0x00000005;  // non-zero, but outside kMask
constexpr auto kEventWait = std::chrono::seconds(5);

AddrPort Ap(const char* text) {
  common::Result<AddrPort> r = AddrPort::Parse(text);
  if (!r.ok()) {
    ADD_FAILURE() << "bad test address " << text << ": " << r.status().ToString();
    return AddrPort{};
  }
  return *r;
}

// One conntrack entry to create: client -> vip, optionally DNATed to backend.
struct FlowSpec {
  std::uint8_t l4proto;
  AddrPort client;
  AddrPort vip;
  std::uint32_t mark;                // 0: no CTA_MARK
  std::optional<AddrPort> backend;   // nullopt: no NAT, so no IPS_DST_NAT
};

std::uint8_t FamilyOf(const AddrPort& a) { return a.address.is_v4() ? AF_INET : AF_INET6; }

std::uint32_t V4Bits(const AddrPort& a) {
  std::uint32_t be;
  std::memcpy(&be, a.address.data(), 4);
  return be;
}

void SetTuple(nf_conntrack* ct, const FlowSpec& f) {
  const bool v4 = f.client.address.is_v4();
  nfct_set_attr_u8(ct, ATTR_ORIG_L3PROTO, FamilyOf(f.client));
  nfct_set_attr_u8(ct, ATTR_ORIG_L4PROTO, f.l4proto);
  nfct_set_attr_u16(ct, ATTR_ORIG_PORT_SRC, htons(f.client.port));
  nfct_set_attr_u16(ct, ATTR_ORIG_PORT_DST, htons(f.vip.port));
  if (v4) {
    nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_SRC, V4Bits(f.client));
    nfct_set_attr_u32(ct, ATTR_ORIG_IPV4_DST, V4Bits(f.vip));
  } else {
    nfct_set_attr(ct, ATTR_ORIG_IPV6_SRC, f.client.address.data());
    nfct_set_attr(ct, ATTR_ORIG_IPV6_DST, f.vip.address.data());
  }
}

// What a full dump shows of one entry.
struct Entry {
  std::uint32_t id = 0;
  std::uint32_t mark = 0;
  std::uint32_t status = 0;
  std::uint16_t client_port = 0;  // original source port: our key in tests
};

int CollectEntry(nf_conntrack_msg_type, nf_conntrack* ct, void* data) noexcept {
  auto* out = static_cast<std::vector<Entry>*>(data);
  Entry e;
  e.id = nfct_get_attr_u32(ct, ATTR_ID);
  e.mark = nfct_get_attr_u32(ct, ATTR_MARK);
  e.status = nfct_get_attr_u32(ct, ATTR_STATUS);
  e.client_port = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC));
  try {
    out->push_back(e);
  } catch (...) {
    return NFCT_CB_FAILURE;
  }
  return NFCT_CB_CONTINUE;
}

std::string Hex(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%x", v);
  return buf;
}

std::string Describe(const TrackedFlow& f) {
  return "id=" + std::to_string(f.id) + " mark=" + Hex(f.mark) +
         " proto=" + std::to_string(f.l4proto) + " dst=" + f.destination.ToString();
}

std::string Describe(const FlowEvent& e) {
  return std::string(e.type == FlowEventType::kNew ? "NEW " : "DESTROY ") + Describe(e.flow);
}

template <class T>
std::vector<std::string> Describe(const std::vector<T>& v) {
  std::vector<std::string> out;
  for (const T& x : v) out.push_back(Describe(x));
  std::sort(out.begin(), out.end());
  return out;
}

// Suite fixture: a ctnetlink handle of the test's own for creating, deleting
// and dumping entries, and an empty conntrack table before and after each test.
class FlowTracker : public ::testing::Test {
 protected:
  void SetUp() override {
    handle_.reset(nfct_open(CONNTRACK, 0));
    if (!handle_ && errno == EPERM) GTEST_SKIP() << "needs CAP_NET_ADMIN";
    ASSERT_TRUE(handle_) << "nfct_open: " << std::strerror(errno);
    ASSERT_EQ(nfct_callback_register(handle_.get(), NFCT_T_ALL, CollectEntry, &dumped_), 0);
    ASSERT_EQ(FlushAll(), 0);
  }
  void TearDown() override {
    if (handle_) FlushAll();
  }

  int FlushAll() {
    std::uint32_t family = AF_UNSPEC;  // NFCT_Q_FLUSH reads a uint32_t family
    return nfct_query(handle_.get(), NFCT_Q_FLUSH, &family) == 0 ? 0 : errno;
  }

  // Creates the entry; its reply tuple is the inverse of the original one
  // until the DNAT setup rewrites the reply source to the backend.
  void Create(const FlowSpec& f) {
    common::NfConntrack ct(nfct_new());
    ASSERT_TRUE(ct);
    SetTuple(ct.get(), f);
    nfct_set_attr_u8(ct.get(), ATTR_REPL_L3PROTO, FamilyOf(f.client));
    nfct_set_attr_u8(ct.get(), ATTR_REPL_L4PROTO, f.l4proto);
    nfct_set_attr_u16(ct.get(), ATTR_REPL_PORT_SRC, htons(f.vip.port));
    nfct_set_attr_u16(ct.get(), ATTR_REPL_PORT_DST, htons(f.client.port));
    if (f.client.address.is_v4()) {
      nfct_set_attr_u32(ct.get(), ATTR_REPL_IPV4_SRC, V4Bits(f.vip));
      nfct_set_attr_u32(ct.get(), ATTR_REPL_IPV4_DST, V4Bits(f.client));
    } else {
      nfct_set_attr(ct.get(), ATTR_REPL_IPV6_SRC, f.vip.address.data());
      nfct_set_attr(ct.get(), ATTR_REPL_IPV6_DST, f.client.address.data());
    }
    nfct_set_attr_u32(ct.get(), ATTR_TIMEOUT, 600);
    if (f.l4proto == IPPROTO_TCP) {
      nfct_set_attr_u8(ct.get(), ATTR_TCP_STATE, TCP_CONNTRACK_ESTABLISHED);
    }
    if (f.mark != 0) nfct_set_attr_u32(ct.get(), ATTR_MARK, f.mark);
    if (f.backend) {
      if (f.backend->address.is_v4()) {
        nfct_set_attr_u32(ct.get(), ATTR_DNAT_IPV4, V4Bits(*f.backend));
      } else {
        nfct_set_attr(ct.get(), ATTR_DNAT_IPV6, f.backend->address.data());
      }
      nfct_set_attr_u16(ct.get(), ATTR_DNAT_PORT, htons(f.backend->port));
    }
    ASSERT_EQ(nfct_query(handle_.get(), NFCT_Q_CREATE, ct.get()), 0)
        << "NFCT_Q_CREATE " << f.client.ToString() << " -> " << f.vip.ToString() << ": "
        << std::strerror(errno);
  }

  void Delete(const FlowSpec& f) {
    common::NfConntrack ct(nfct_new());
    ASSERT_TRUE(ct);
    SetTuple(ct.get(), f);
    ASSERT_EQ(nfct_query(handle_.get(), NFCT_Q_DESTROY, ct.get()), 0)
        << "NFCT_Q_DESTROY " << f.client.ToString() << ": " << std::strerror(errno);
  }

  // Every entry of both families.
  std::vector<Entry> DumpAll() {
    dumped_.clear();
    std::uint32_t family = AF_UNSPEC;  // NFCT_Q_DUMP reads a uint32_t family
    EXPECT_EQ(nfct_query(handle_.get(), NFCT_Q_DUMP, &family), 0) << std::strerror(errno);
    return std::move(dumped_);
  }

  // The conntrack id of the entry whose original source port is `client_port`.
  std::uint32_t IdOf(std::uint16_t client_port) {
    for (const Entry& e : DumpAll()) {
      if (e.client_port == client_port) return e.id;
    }
    ADD_FAILURE() << "no conntrack entry with client port " << client_port;
    return 0;
  }

  // What the tracker should report for `f`, which must exist now.
  TrackedFlow Expected(const FlowSpec& f) {
    TrackedFlow t;
    t.id = IdOf(f.client.port);
    t.mark = f.mark;
    t.l4proto = f.l4proto;
    t.destination = *f.backend;
    return t;
  }

  common::NfctHandle handle_;
  std::vector<Entry> dumped_;
};

std::unique_ptr<Tracker> OpenTracker(int rcvbuf_bytes = 8 << 20) {
  common::Result<std::unique_ptr<Tracker>> t = Tracker::Open(kMask, rcvbuf_bytes);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(*t) : nullptr;
}

// Calls ReadEvents, and polls event_fd() in between, until `done(events)` or
// kEventWait passes. Returns every event reported.
std::vector<FlowEvent> ReadEventsUntil(
    Tracker& tracker, const std::function<bool(const std::vector<FlowEvent>&)>& done) {
  std::vector<FlowEvent> events;
  const auto deadline = Clock::now() + kEventWait;
  for (;;) {
    common::Result<Tracker::ReadResult> r =
        tracker.ReadEvents([&](const FlowEvent& e) { events.push_back(e); });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return events;
    EXPECT_EQ(*r, Tracker::ReadResult::kDrained);
    if (done(events)) return events;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return events;
    pollfd p{tracker.event_fd(), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) == 0) return events;
  }
}

std::vector<FlowEvent> ReadEventsUntilCount(Tracker& tracker, std::size_t n) {
  return ReadEventsUntil(tracker, [n](const std::vector<FlowEvent>& e) { return e.size() >= n; });
}

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
