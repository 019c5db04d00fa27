// Test support for FlowTracker's kernel tests; see conntrack_fixture.h.
#include <arpa/inet.h>
#include <netinet/in.h>

#include "proxygw-netd/testing/conntrack_fixture.h"

#include <poll.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <libnetfilter_conntrack/libnetfilter_conntrack_tcp.h>

namespace netd::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::uint8_t FamilyOf(const common::AddrPort& a) { return a.address.is_v4() ? AF_INET : AF_INET6; }

std::uint32_t V4Bits(const common::AddrPort& a) {
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

}  // namespace

common::AddrPort Ap(const char* text) {
  common::Result<common::AddrPort> r = common::AddrPort::Parse(text);
  if (!r.ok()) {
    ADD_FAILURE() << "bad test address " << text << ": " << r.status().ToString();
    return common::AddrPort{};
  }
  return *r;
}

std::string Describe(const TrackedFlow& f) {
  return "id=" + std::to_string(f.id) + " mark=" + Hex(f.mark) +
         " proto=" + std::to_string(f.l4proto) + " dst=" + f.destination.ToString();
}

std::string Describe(const FlowEvent& e) {
  return std::string(e.type == FlowEventType::kNew ? "NEW " : "DESTROY ") + Describe(e.flow);
}

void FlowTracker::SetUp() {
  handle_.reset(nfct_open(CONNTRACK, 0));
  if (!handle_ && errno == EPERM) GTEST_SKIP() << "needs CAP_NET_ADMIN";
  ASSERT_TRUE(handle_) << "nfct_open: " << std::strerror(errno);
  ASSERT_EQ(nfct_callback_register(handle_.get(), NFCT_T_ALL, CollectEntry, &dumped_), 0);
  ASSERT_EQ(FlushAll(), 0);
}

void FlowTracker::TearDown() {
  if (handle_) FlushAll();
}

int FlowTracker::FlushAll() {
  std::uint32_t family = AF_UNSPEC;  // NFCT_Q_FLUSH reads a uint32_t family
  return nfct_query(handle_.get(), NFCT_Q_FLUSH, &family) == 0 ? 0 : errno;
}

void FlowTracker::Create(const FlowSpec& f) {
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
  nfct_set_attr_u32(ct.get(), ATTR_TIMEOUT, f.timeout_s);
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

void FlowTracker::Delete(const FlowSpec& f) {
  common::NfConntrack ct(nfct_new());
  ASSERT_TRUE(ct);
  SetTuple(ct.get(), f);
  ASSERT_EQ(nfct_query(handle_.get(), NFCT_Q_DESTROY, ct.get()), 0)
      << "NFCT_Q_DESTROY " << f.client.ToString() << ": " << std::strerror(errno);
}

std::vector<Entry> FlowTracker::DumpAll() {
  dumped_.clear();
  std::uint32_t family = AF_UNSPEC;  // NFCT_Q_DUMP reads a uint32_t family
  EXPECT_EQ(nfct_query(handle_.get(), NFCT_Q_DUMP, &family), 0) << std::strerror(errno);
  return std::move(dumped_);
}

std::uint32_t FlowTracker::IdOf(std::uint16_t client_port) {
  for (const Entry& e : DumpAll()) {
    if (e.client_port == client_port) return e.id;
  }
  ADD_FAILURE() << "no conntrack entry with client port " << client_port;
  return 0;
}

TrackedFlow FlowTracker::Expected(const FlowSpec& f) {
  TrackedFlow t;
  t.id = IdOf(f.client.port);
  t.mark = f.mark;
  t.l4proto = f.l4proto;
  t.destination = *f.backend;
  return t;
}

std::unique_ptr<netd::FlowTracker> OpenTracker(int rcvbuf_bytes) {
  common::Result<std::unique_ptr<netd::FlowTracker>> t =
      netd::FlowTracker::Open(kMask, rcvbuf_bytes);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? std::move(*t) : nullptr;
}

std::vector<FlowEvent> ReadEventsUntil(
    netd::FlowTracker& tracker, const std::function<bool(const std::vector<FlowEvent>&)>& done) {
  std::vector<FlowEvent> events;
  const auto deadline = Clock::now() + kEventWait;
  for (;;) {
    common::Result<netd::FlowTracker::ReadResult> r =
        tracker.ReadEvents([&](const FlowEvent& e) { events.push_back(e); });
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    if (!r.ok()) return events;
    EXPECT_EQ(*r, netd::FlowTracker::ReadResult::kDrained);
    if (done(events)) return events;
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) return events;
    pollfd p{tracker.event_fd(), POLLIN, 0};
    if (poll(&p, 1, static_cast<int>(left)) == 0) return events;
  }
}

std::vector<FlowEvent> ReadEventsUntilCount(netd::FlowTracker& tracker, std::size_t n) {
  return ReadEventsUntil(tracker, [n](const std::vector<FlowEvent>& e) { return e.size() >= n; });
}

}  // namespace netd::testing
