// FlowTracker: conntrack events, filtered snapshots and flush by mark for
// proxygw-netd (see flow_tracker.h for the contract). Two ctnetlink sockets,
// both opened in Open(): the event socket (NEW and DESTROY groups, a BPF mark
// filter attached in the kernel, read with recvfrom and parsed with
// nfct_nlmsg_parse, so no C callback runs user code) and the query socket
// (filtered dumps through nfct_query, and the raw IPCTNL_MSG_CT_DELETE of
// FlushMark). Runs inside netd only, on one thread (its event loop): nothing
// here is synchronised. No logging; every failure is a Status.
//
// <arpa/inet.h>/<netinet/in.h> come before any netfilter header: the kernel's
// uapi headers otherwise redefine struct in_addr under g++.
#include <arpa/inet.h>
#include <netinet/in.h>

#include "proxygw-netd/flow_tracker.h"

#include <fcntl.h>
#include <linux/netlink.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <exception>
#include <optional>
#include <string>
#include <utility>

#include "common/c_handles.h"

namespace netd {

namespace {

using common::IpAddress;
using common::Result;
using common::Status;

// Large enough for any single ctnetlink event or dump datagram the kernel
// builds (an event skb is at most NLMSG_GOODSIZE, a few KiB).
constexpr std::size_t kRecvBufferBytes = 64 * 1024;

// Upper bound on datagrams thrown away after an overrun, so that a flood
// faster than we can read cannot keep ReadEvents spinning forever.
constexpr int kMaxDiscardedDatagrams = 1 << 18;

// Upper bound on unrelated datagrams skipped while waiting for FlushMark's ACK.
constexpr int kMaxStaleReplies = 64;

std::string Hex32(std::uint32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof(buf), "0x%08x", v);
  return buf;
}

// errno after a library call that should have set it; EIO if it did not.
int LastErrno() { return errno != 0 ? errno : EIO; }

// Sets FD_CLOEXEC, and O_NONBLOCK when `nonblock`, on a socket nfct_open made.
Status SetFlags(int fd, bool nonblock, const char* which) {
  std::string what = std::string("FlowTracker: ") + which + " socket: fcntl(";
  int flags = fcntl(fd, F_GETFD);
  if (flags < 0 || fcntl(fd, F_SETFD, flags | FD_CLOEXEC) < 0) {
    return Status::FromErrno(what + "FD_CLOEXEC)", errno);
  }
  flags = nonblock ? fcntl(fd, F_GETFL) : 0;
  if (nonblock && (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)) {
    return Status::FromErrno(what + "O_NONBLOCK)", errno);
  }
  return Status::Ok();
}

// SO_RCVBUFFORCE ignores net.core.rmem_max but needs CAP_NET_ADMIN; without
// it (EPERM) SO_RCVBUF still works, capped by rmem_max.
Status SetReceiveBuffer(int fd, int bytes) {
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &bytes, sizeof(bytes)) == 0) return Status::Ok();
  if (errno != EPERM) {
    return Status::FromErrno("FlowTracker: event socket: setsockopt(SO_RCVBUFFORCE, " +
                                 std::to_string(bytes) + ")",
                             errno);
  }
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &bytes, sizeof(bytes)) != 0) {
    return Status::FromErrno(
        "FlowTracker: event socket: setsockopt(SO_RCVBUF, " + std::to_string(bytes) + ")", errno);
  }
  return Status::Ok();
}

// Attaches a BPF program that drops, in the kernel, every event whose
// (mark & mask) == 0. An event without CTA_MARK (the kernel omits a zero
// mark from some events) counts as mark 0 and is dropped too.
Status AttachMarkFilter(int fd, std::uint32_t mask) {
  common::NfctFilter filter(nfct_filter_create());
  if (!filter) return Status::FromErrno("FlowTracker: event socket: nfct_filter_create", ENOMEM);
  nfct_filter_dump_mark not_ours{};
  not_ours.val = 0;
  not_ours.mask = mask;
  nfct_filter_add_attr(filter.get(), NFCT_FILTER_MARK, &not_ours);
  if (nfct_filter_set_logic(filter.get(), NFCT_FILTER_MARK, NFCT_FILTER_LOGIC_NEGATIVE) < 0) {
    return Status::FromErrno("FlowTracker: event socket: nfct_filter_set_logic(NFCT_FILTER_MARK)",
                             LastErrno());
  }
  // The kernel copies the program; the filter object can go afterwards.
  if (nfct_filter_attach(fd, filter.get()) < 0) {
    return Status::FromErrno("FlowTracker: event socket: nfct_filter_attach (mark mask " +
                                 Hex32(mask) + ")",
                             LastErrno());
  }
  return Status::Ok();
}

// One address of `ct`'s tuples: attribute `v4` or `v6` by its family.
std::optional<IpAddress> AddressOf(const nf_conntrack* ct, nf_conntrack_attr v4,
                                   nf_conntrack_attr v6) {
  bool is_v4 = nfct_get_attr_u8(ct, ATTR_ORIG_L3PROTO) == AF_INET;
  const void* p = nfct_get_attr(ct, is_v4 ? v4 : v6);
  if (p == nullptr) return std::nullopt;
  return IpAddress::FromBytes(is_v4 ? common::Family::kIpv4 : common::Family::kIpv6,
                              static_cast<const std::uint8_t*>(p));  // network order
}

// The flow `ct` describes, if netd tracks it: IPS_DST_NAT set, (mark & mask)
// != 0, TCP or UDP, IPv4 or IPv6, with a reply tuple. nullopt otherwise.
std::optional<TrackedFlow> ToTrackedFlow(const nf_conntrack* ct, std::uint32_t mask) {
  if (nfct_attr_is_set(ct, ATTR_STATUS) <= 0 || nfct_attr_is_set(ct, ATTR_MARK) <= 0 ||
      nfct_attr_is_set(ct, ATTR_ID) <= 0 || nfct_attr_is_set(ct, ATTR_ORIG_L3PROTO) <= 0 ||
      nfct_attr_is_set(ct, ATTR_ORIG_L4PROTO) <= 0 ||
      nfct_attr_is_set(ct, ATTR_REPL_PORT_SRC) <= 0) {
    return std::nullopt;
  }
  if ((nfct_get_attr_u32(ct, ATTR_STATUS) & IPS_DST_NAT) == 0) return std::nullopt;
  const std::uint32_t mark = nfct_get_attr_u32(ct, ATTR_MARK);
  if ((mark & mask) == 0) return std::nullopt;
  const std::uint8_t l4proto = nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO);
  if (l4proto != IPPROTO_TCP && l4proto != IPPROTO_UDP) return std::nullopt;

  TrackedFlow flow;
  flow.id = nfct_get_attr_u32(ct, ATTR_ID);
  flow.mark = mark;
  flow.l4proto = l4proto;
  auto dest = AddressOf(ct, ATTR_REPL_IPV4_SRC, ATTR_REPL_IPV6_SRC);
  auto orig_src = AddressOf(ct, ATTR_ORIG_IPV4_SRC, ATTR_ORIG_IPV6_SRC);
  auto orig_dst = AddressOf(ct, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST);
  if (!dest || !orig_src || !orig_dst) return std::nullopt;
  flow.destination.address = *dest;
  flow.orig_source.address = *orig_src;
  flow.orig_destination.address = *orig_dst;
  flow.destination.port = ntohs(nfct_get_attr_u16(ct, ATTR_REPL_PORT_SRC));
  if (nfct_attr_is_set(ct, ATTR_TIMEOUT) > 0) flow.timeout_s = nfct_get_attr_u32(ct, ATTR_TIMEOUT);
  flow.orig_source.port = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_SRC));
  flow.orig_destination.port = ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST));
  return flow;
}

}  // namespace

// What the dump callback fills during one Snapshot(). Impl holds one, so it
// is not in the anonymous namespace (a unity build would warn: a member of
// a type with internal linkage).
struct DumpContext {
  std::uint32_t mark_mask = 0;
  std::vector<TrackedFlow> flows;
  bool out_of_memory = false;
};

namespace {

// nfct_query's dump callback. Called from C: must not throw. Always returns
// CONTINUE so that the whole dump is read off the socket even after a failure
// (a half-read dump would confuse the next query on the same socket).
int OnDumpEntry(nf_conntrack_msg_type /*type*/, nf_conntrack* ct, void* data) noexcept {
  auto* ctx = static_cast<DumpContext*>(data);
  if (ctx->out_of_memory) return NFCT_CB_CONTINUE;
  if (std::optional<TrackedFlow> flow = ToTrackedFlow(ct, ctx->mark_mask)) {
    try {
      ctx->flows.push_back(*flow);
    } catch (...) {
      ctx->out_of_memory = true;
    }
  }
  return NFCT_CB_CONTINUE;
}

const char* FamilyText(std::uint8_t family) { return family == AF_INET ? "IPv4" : "IPv6"; }

}  // namespace

struct FlowTracker::Impl {
  std::uint32_t mark_mask = 0;
  common::NfctHandle events;   // NEW|DESTROY groups, non-blocking, BPF mark filter
  common::NfctHandle queries;  // dumps (nfct_query) and FlushMark's raw delete; blocking
  std::uint32_t flush_seq = 0;
  DumpContext dump;  // the query handle's callback data; lives as long as the handle
  alignas(nlmsghdr) std::array<unsigned char, kRecvBufferBytes> buffer;

  // Receives one datagram from the kernel on `fd` into `buffer`. Returns its
  // length, or -1 with errno set (EAGAIN, ENOBUFS, ...). Datagrams that do not
  // come from the kernel are skipped; a truncated one fails with EMSGSIZE.
  ssize_t ReceiveFromKernel(int fd, int flags);

  // Reads and throws away what is queued on the event socket (until EAGAIN,
  // or kMaxDiscardedDatagrams). Used after an overrun.
  Status DiscardPendingEvents();
};

ssize_t FlowTracker::Impl::ReceiveFromKernel(int fd, int flags) {
  for (;;) {
    sockaddr_nl from{};
    socklen_t from_len = sizeof(from);
    ssize_t n = recvfrom(fd, buffer.data(), buffer.size(), flags | MSG_TRUNC,
                         reinterpret_cast<sockaddr*>(&from), &from_len);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    if (static_cast<std::size_t>(n) > buffer.size()) {
      errno = EMSGSIZE;
      return -1;
    }
    // Only the kernel (port id 0) speaks ctnetlink to us.
    if (from_len != sizeof(from) || from.nl_family != AF_NETLINK || from.nl_pid != 0) continue;
    return n;
  }
}

Status FlowTracker::Impl::DiscardPendingEvents() {
  const int fd = nfct_fd(events.get());
  for (int i = 0; i < kMaxDiscardedDatagrams; ++i) {
    if (ReceiveFromKernel(fd, MSG_DONTWAIT) >= 0) continue;
    if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::Ok();
    // Another overflow or a truncated datagram while discarding: both are
    // covered by the resync the caller is about to do.
    if (errno == ENOBUFS || errno == EMSGSIZE) continue;
    return Status::FromErrno("FlowTracker: event socket: recvfrom", errno);
  }
  return Status::Ok();
}

FlowTracker::FlowTracker(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
FlowTracker::~FlowTracker() = default;

Result<std::unique_ptr<FlowTracker>> FlowTracker::Open(std::uint32_t mark_mask, int rcvbuf_bytes) {
  if (mark_mask == 0) {
    return Status::InvalidArgument(
        "FlowTracker: mark mask is 0; it must select at least one ct mark bit");
  }
  if (rcvbuf_bytes <= 0) {
    return Status::InvalidArgument("FlowTracker: event socket receive buffer must be positive, got " +
                                   std::to_string(rcvbuf_bytes));
  }
  auto impl = std::make_unique<Impl>();
  impl->mark_mask = mark_mask;
  impl->dump.mark_mask = mark_mask;

  errno = 0;
  impl->events.reset(nfct_open(CONNTRACK, NF_NETLINK_CONNTRACK_NEW | NF_NETLINK_CONNTRACK_DESTROY));
  if (!impl->events) {
    return Status::FromErrno("FlowTracker: event socket: nfct_open(NEW|DESTROY)",
                             LastErrno());
  }
  const int event_fd = nfct_fd(impl->events.get());
  if (Status s = SetFlags(event_fd, /*nonblock=*/true, "event"); !s.ok()) return s;
  if (Status s = SetReceiveBuffer(event_fd, rcvbuf_bytes); !s.ok()) return s;
  if (Status s = AttachMarkFilter(event_fd, mark_mask); !s.ok()) return s;

  errno = 0;
  impl->queries.reset(nfct_open(CONNTRACK, 0));
  if (!impl->queries) {
    return Status::FromErrno("FlowTracker: query socket: nfct_open", LastErrno());
  }
  if (Status s = SetFlags(nfct_fd(impl->queries.get()), false, "query"); !s.ok()) return s;
  // Registered once: registering again would leak libnetfilter_conntrack's
  // callback container. nfct_close() releases it.
  if (nfct_callback_register(impl->queries.get(), NFCT_T_ALL, OnDumpEntry, &impl->dump) < 0) {
    return Status::FromErrno("FlowTracker: query socket: nfct_callback_register", LastErrno());
  }
  return std::unique_ptr<FlowTracker>(new FlowTracker(std::move(impl)));
}

int FlowTracker::event_fd() const { return nfct_fd(impl_->events.get()); }

// Overrun policy: on ENOBUFS the events still queued are read and thrown away
// before kOverrun is returned. They predate the Snapshot() the caller must now
// take, and delivering them later could resurrect a flow whose DESTROY was
// among the dropped events. Events delivered earlier in the same call stay
// delivered.
Result<FlowTracker::ReadResult> FlowTracker::ReadEvents(
    const std::function<void(const FlowEvent&)>& on_event) {
  const int fd = nfct_fd(impl_->events.get());
  for (;;) {
    const ssize_t n = impl_->ReceiveFromKernel(fd, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return ReadResult::kDrained;
      // A datagram that does not fit is an event we cannot read: as lost as
      // one the kernel dropped.
      if (errno == ENOBUFS || errno == EMSGSIZE) {
        if (Status s = impl_->DiscardPendingEvents(); !s.ok()) return s;
        return ReadResult::kOverrun;
      }
      return Status::FromErrno("FlowTracker: event socket: recvfrom", errno);
    }
    int remaining = static_cast<int>(n);
    for (const nlmsghdr* nlh = reinterpret_cast<const nlmsghdr*>(impl_->buffer.data());
         mnl_nlmsg_ok(nlh, remaining);
         nlh = mnl_nlmsg_next(nlh, &remaining)) {
      if (NFNL_SUBSYS_ID(nlh->nlmsg_type) != NFNL_SUBSYS_CTNETLINK) continue;
      FlowEventType type;
      const int msg = NFNL_MSG_TYPE(nlh->nlmsg_type);
      if (msg == IPCTNL_MSG_CT_NEW && (nlh->nlmsg_flags & (NLM_F_CREATE | NLM_F_EXCL)) != 0) {
        type = FlowEventType::kNew;
      } else if (msg == IPCTNL_MSG_CT_DELETE) {
        type = FlowEventType::kDestroy;
      } else {
        continue;
      }
      common::NfConntrack ct(nfct_new());
      if (!ct) return Status::FromErrno("FlowTracker: nfct_new", ENOMEM);
      if (nfct_nlmsg_parse(nlh, ct.get()) < 0) {
        return Status::ProtocolError("FlowTracker: event socket: unparsable conntrack event");
      }
      std::optional<TrackedFlow> flow = ToTrackedFlow(ct.get(), impl_->mark_mask);
      if (!flow) continue;
      // on_event is the caller's code; nothing may leave ReadEvents as an
      // exception, so a throw becomes a Status (the event is lost: resync).
      try {
        on_event(FlowEvent{type, *flow});
      } catch (const std::exception& e) {
        return Status::Internal(std::string("FlowTracker: on_event threw: ") + e.what());
      } catch (...) {
        return Status::Internal("FlowTracker: on_event threw a non-std exception");
      }
    }
  }
}

Result<std::vector<TrackedFlow>> FlowTracker::Snapshot() {
  DumpContext& ctx = impl_->dump;
  ctx.flows.clear();
  ctx.out_of_memory = false;
  for (const std::uint8_t family : {std::uint8_t{AF_INET}, std::uint8_t{AF_INET6}}) {
    common::NfctFilterDump filter(nfct_filter_dump_create());
    if (!filter) return Status::FromErrno("FlowTracker: nfct_filter_dump_create", ENOMEM);
    nfct_filter_dump_mark dnat{};
    dnat.val = IPS_DST_NAT;
    dnat.mask = IPS_DST_NAT;
    nfct_filter_dump_set_attr(filter.get(), NFCT_FILTER_DUMP_STATUS, &dnat);
    nfct_filter_dump_set_attr_u8(filter.get(), NFCT_FILTER_DUMP_L3NUM, family);
    errno = 0;
    if (nfct_query(impl_->queries.get(), NFCT_Q_DUMP_FILTER, filter.get()) < 0) {
      const int err = LastErrno();
      ctx.flows.clear();
      return Status::FromErrno(
          std::string("FlowTracker: conntrack dump (") + FamilyText(family) + ", IPS_DST_NAT)",
          err);
    }
  }
  if (ctx.out_of_memory) {
    ctx.flows.clear();
    return Status::Internal("FlowTracker: conntrack dump: out of memory");
  }
  return std::exchange(ctx.flows, {});
}

namespace {

// A conntrack object holding `flow`'s original tuple, which finds its entry.
Result<common::NfConntrack> TupleOf(const TrackedFlow& flow) {
  common::NfConntrack ct(nfct_new());
  if (!ct) return Status::FromErrno("FlowTracker: nfct_new", ENOMEM);
  bool v4 = flow.orig_source.address.is_v4();
  nfct_set_attr_u8(ct.get(), ATTR_ORIG_L3PROTO, v4 ? AF_INET : AF_INET6);
  // Copies 4 or 16 bytes, by the attribute.
  nfct_set_attr(ct.get(), v4 ? ATTR_ORIG_IPV4_SRC : ATTR_ORIG_IPV6_SRC,
                flow.orig_source.address.data());
  nfct_set_attr(ct.get(), v4 ? ATTR_ORIG_IPV4_DST : ATTR_ORIG_IPV6_DST,
                flow.orig_destination.address.data());
  nfct_set_attr_u8(ct.get(), ATTR_ORIG_L4PROTO, flow.l4proto);
  nfct_set_attr_u16(ct.get(), ATTR_ORIG_PORT_SRC, htons(flow.orig_source.port));
  nfct_set_attr_u16(ct.get(), ATTR_ORIG_PORT_DST, htons(flow.orig_destination.port));
  return ct;
}

}  // namespace

Result<std::optional<TrackedFlow>> FlowTracker::Probe(const TrackedFlow& flow) {
  auto ct = TupleOf(flow);
  if (!ct.ok()) return ct.status();
  DumpContext& ctx = impl_->dump;
  ctx.flows.clear();
  ctx.out_of_memory = false;
  errno = 0;
  if (nfct_query(impl_->queries.get(), NFCT_Q_GET, ct->get()) < 0) {
    const int err = LastErrno();
    if (err == ENOENT) return std::optional<TrackedFlow>();
    return Status::FromErrno("FlowTracker: conntrack get", err);
  }
  for (const TrackedFlow& f : ctx.flows) {
    if (f.id == flow.id) return std::optional<TrackedFlow>(f);
  }
  return std::optional<TrackedFlow>();
}

Status FlowTracker::Retime(const TrackedFlow& flow, std::uint32_t timeout_s) {
  auto ct = TupleOf(flow);
  if (!ct.ok()) return ct.status();
  nfct_set_attr_u32(ct->get(), ATTR_TIMEOUT, timeout_s);
  errno = 0;
  if (nfct_query(impl_->queries.get(), NFCT_Q_UPDATE, ct->get()) < 0) {
    const int err = LastErrno();
    if (err == ENOENT) return Status::Ok();  // gone meanwhile: the next probe sees it
    return Status::FromErrno("FlowTracker: conntrack update (timeout)", err);
  }
  return Status::Ok();
}

Result<std::size_t> FlowTracker::DeleteUnanswered(std::uint8_t l4proto,
                                                  const common::AddrPort& to) {
  struct Ctx {
    std::uint8_t l4proto;
    const common::AddrPort& to;
    std::vector<common::NfConntrack> found;
  } ctx{l4proto, to, {}};
  auto pick = [](nf_conntrack_msg_type, nf_conntrack* ct, void* data) noexcept -> int {
    auto* c = static_cast<Ctx*>(data);
    auto dst = AddressOf(ct, ATTR_ORIG_IPV4_DST, ATTR_ORIG_IPV6_DST);
    if (nfct_get_attr_u8(ct, ATTR_ORIG_L4PROTO) != c->l4proto || !dst ||
        dst->family() != c->to.family() ||
        ntohs(nfct_get_attr_u16(ct, ATTR_ORIG_PORT_DST)) != c->to.port ||
        (nfct_get_attr_u32(ct, ATTR_STATUS) & (IPS_DST_NAT | IPS_SEEN_REPLY)) != 0 ||
        (!c->to.address.IsUnspecified() && *dst != c->to.address)) {
      return NFCT_CB_CONTINUE;
    }
    try {
      c->found.emplace_back(nfct_clone(ct));
    } catch (...) {  // out of memory: delete what was found
    }
    return NFCT_CB_CONTINUE;
  };
  nfct_handle* q = impl_->queries.get();
  nfct_callback_unregister(q);
  nfct_callback_register(q, NFCT_T_ALL, pick, &ctx);
  common::NfctFilterDump filter(nfct_filter_dump_create());
  nfct_filter_dump_mark unanswered{0, IPS_DST_NAT | IPS_SEEN_REPLY};  // val, mask
  if (filter) {
    nfct_filter_dump_set_attr(filter.get(), NFCT_FILTER_DUMP_STATUS, &unanswered);
    nfct_filter_dump_set_attr_u8(filter.get(), NFCT_FILTER_DUMP_L3NUM,
                                 to.address.is_v4() ? AF_INET : AF_INET6);
  }
  errno = 0;
  int rc = filter ? nfct_query(q, NFCT_Q_DUMP_FILTER, filter.get()) : -1;
  int err = LastErrno();
  nfct_callback_unregister(q);
  nfct_callback_register(q, NFCT_T_ALL, OnDumpEntry, &impl_->dump);
  if (rc < 0) return Status::FromErrno("FlowTracker: conntrack dump (unanswered)", err);
  std::size_t deleted = 0;
  for (const auto& ct : ctx.found) {
    errno = 0;
    if (ct && nfct_query(q, NFCT_Q_DESTROY, ct.get()) == 0) ++deleted;
  }
  return deleted;
}

common::Status FlowTracker::FlushMark(std::uint32_t mark) {
  const std::uint32_t mask = impl_->mark_mask;
  if (mark == 0 || (mark & ~mask) != 0) {
    // 0 would delete every flow that is not netd's; bits outside the mask
    // can never match. Both are caller bugs.
    return Status::InvalidArgument("FlowTracker: FlushMark(" + Hex32(mark) +
                                   "): mark must be non-zero and inside the mark mask " +
                                   Hex32(mask));
  }
  const std::string what = "FlowTracker: flush conntrack mark " + Hex32(mark) + "/" + Hex32(mask);

  alignas(nlmsghdr) std::array<unsigned char, 256> request{};
  nlmsghdr* nlh = mnl_nlmsg_put_header(request.data());
  nlh->nlmsg_type = (NFNL_SUBSYS_CTNETLINK << 8) | IPCTNL_MSG_CT_DELETE;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  const std::uint32_t seq = ++impl_->flush_seq;
  nlh->nlmsg_seq = seq;
  auto* nfg = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(nlh, sizeof(nfgenmsg)));
  // No tuple: the kernel flushes every entry its filter matches. AF_UNSPEC
  // (with version 0 and no CTA_FILTER) covers IPv4 and IPv6 in one message.
  nfg->nfgen_family = AF_UNSPEC;
  nfg->version = NFNETLINK_V0;
  nfg->res_id = 0;
  mnl_attr_put_u32(nlh, CTA_MARK, htonl(mark));
  mnl_attr_put_u32(nlh, CTA_MARK_MASK, htonl(mask));

  const int fd = nfct_fd(impl_->queries.get());
  sockaddr_nl kernel{};
  kernel.nl_family = AF_NETLINK;
  ssize_t sent;
  do {
    sent = sendto(fd, nlh, nlh->nlmsg_len, 0, reinterpret_cast<const sockaddr*>(&kernel),
                  sizeof(kernel));
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) return Status::FromErrno(what + ": sendto", errno);

  // The query socket is blocking; the kernel always answers NLM_F_ACK.
  for (int i = 0; i < kMaxStaleReplies; ++i) {
    const ssize_t n = impl_->ReceiveFromKernel(fd, 0);
    if (n < 0) return Status::FromErrno(what + ": waiting for the ACK", errno);
    int remaining = static_cast<int>(n);
    for (const nlmsghdr* reply = reinterpret_cast<const nlmsghdr*>(impl_->buffer.data());
         mnl_nlmsg_ok(reply, remaining); reply = mnl_nlmsg_next(reply, &remaining)) {
      if (reply->nlmsg_seq != seq || reply->nlmsg_type != NLMSG_ERROR) continue;
      if (mnl_nlmsg_get_payload_len(reply) < sizeof(nlmsgerr)) {
        return Status::ProtocolError(what + ": truncated ACK");
      }
      const auto* err = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(reply));
      if (err->error == 0 || err->error == -ENOENT) return Status::Ok();
      return Status::FromErrno(what + ": IPCTNL_MSG_CT_DELETE", -err->error);
    }
  }
  return Status::ProtocolError(what + ": no ACK among " + std::to_string(kMaxStaleReplies) +
                               " replies");
}

}  // namespace netd
