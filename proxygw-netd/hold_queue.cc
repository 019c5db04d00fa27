// HoldQueue: nfnetlink_queue with libmnl; see hold_queue.h. Runs inside
// proxygw-netd only.
#include "proxygw-netd/hold_queue.h"

// <arpa/inet.h> and <netinet/in.h> must come before <linux/netfilter.h>.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netfilter/nfnetlink_queue.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <optional>
#include <vector>

#include "common/c_handles.h"

namespace netd {

using common::IpAddress;
using common::Status;

namespace {

// Enough of a packet for its addresses and ports: an IPv4 header with
// options (60) or an IPv6 header (40), then the L4 ports (4).
constexpr std::uint32_t kCopyRange = 64;
// Datagrams read per Read(), so that a flood does not starve the loop.
constexpr int kMaxReadsPerCall = 256;

using Attrs = std::array<const nlattr*, NFQA_MAX + 1>;

// The attributes of a queue message, by type.
Attrs Attributes(const nlmsghdr* m) {
  Attrs tb{};
  mnl_attr_parse(
      m, sizeof(nfgenmsg),
      [](const nlattr* a, void* d) -> int {
        auto& t = *static_cast<Attrs*>(d);
        if (mnl_attr_get_type(a) <= NFQA_MAX) t[mnl_attr_get_type(a)] = a;
        return MNL_CB_OK;
      },
      &tb);
  return tb;
}

// The id of the packet `m` (with attributes `tb`) carries, if it is a
// queued packet.
std::optional<std::uint32_t> PacketId(const nlmsghdr* m, const Attrs& tb) {
  if (m->nlmsg_type != ((NFNL_SUBSYS_QUEUE << 8) | NFQNL_MSG_PACKET)) return std::nullopt;
  const nlattr* hdr = tb[NFQA_PACKET_HDR];
  if (!hdr || mnl_attr_get_payload_len(hdr) < sizeof(nfqnl_msg_packet_hdr)) return std::nullopt;
  return ntohl(static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(hdr))->packet_id);
}

}  // namespace

nlmsghdr* HoldQueue::Header(char* b, std::uint16_t type) {
  nlmsghdr* h = mnl_nlmsg_put_header(b);
  h->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | type;
  h->nlmsg_flags = NLM_F_REQUEST;
  h->nlmsg_seq = (*nl_.seq())++;
  auto* g = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(h, sizeof(nfgenmsg)));
  g->nfgen_family = AF_UNSPEC;
  g->version = NFNETLINK_V0;
  g->res_id = htons(num_);
  return h;
}

common::Result<std::unique_ptr<HoldQueue>> HoldQueue::Open(std::uint16_t num,
                                                           std::uint32_t max_len) {
  // Buffers for a burst of held packets' headers (under 200 bytes each).
  auto nl = nft::Netlink::Open("nfqueue", 4 << 20);
  if (!nl.ok()) return nl.status();
  std::unique_ptr<HoldQueue> q(new HoldQueue(std::move(nl).value(), num));
  // Bind and configure in one message: the kernel applies the parameters
  // right after binding, so no packet is queued with the default (whole
  // packet) copy mode.
  std::array<char, 512> b{};
  nlmsghdr* h = q->Header(b.data(), NFQNL_MSG_CONFIG);
  nfqnl_msg_config_cmd cmd{NFQNL_CFG_CMD_BIND, 0, 0};
  mnl_attr_put(h, NFQA_CFG_CMD, sizeof cmd, &cmd);
  nfqnl_msg_config_params params{htonl(kCopyRange), NFQNL_COPY_PACKET};
  mnl_attr_put(h, NFQA_CFG_PARAMS, sizeof params, &params);
  mnl_attr_put_u32(h, NFQA_CFG_QUEUE_MAXLEN, htonl(max_len));
  // Acked: a configuration step must not fail silently (binding a queue
  // another socket holds gives EPERM). A packet queued before the ack: netd
  // knows no hold yet, so it drops it, as it would any packet until the
  // engine's sync.
  h->nlmsg_flags |= NLM_F_ACK;
  std::string what = "bind nfqueue " + std::to_string(num);
  Status st = q->nl_.Query(h, [&](const nlmsghdr* m) {
    if (auto id = PacketId(m, Attributes(m))) (void)q->Decide(*id, Verdict::kDrop);
  }, what.c_str());
  if (!st.ok()) return st;
  return q;
}

Status HoldQueue::Decide(std::uint32_t id, Verdict v) {
  std::array<char, 128> b{};
  nlmsghdr* h = Header(b.data(), NFQNL_MSG_VERDICT);
  nfqnl_msg_verdict_hdr vh{htonl(v == Verdict::kAccept ? NF_ACCEPT : NF_DROP), htonl(id)};
  mnl_attr_put(h, NFQA_VERDICT_HDR, sizeof vh, &vh);
  return nl_.Send(h, "nfqueue verdict");
}

Status HoldQueue::Read(const std::function<void(const HeldPacket&)>& on_packet) {
  for (int reads = 0; reads < kMaxReadsPerCall; ++reads) {
    ssize_t n = recv(fd(), buf_.data(), buf_.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::Ok();
      if (errno == EINTR || errno == ENOBUFS) continue;  // the kernel dropped some: retransmitted
      return Status::FromErrno("read nfqueue", errno);
    }
    int len = static_cast<int>(n);
    for (auto* m = reinterpret_cast<const nlmsghdr*>(buf_.data()); mnl_nlmsg_ok(m, len);
         m = mnl_nlmsg_next(m, &len)) {
      auto tb = Attributes(m);
      auto id = PacketId(m, tb);
      if (!id) continue;
      HeldPacket p;
      p.id = *id;
      const auto* pl =
          tb[NFQA_PAYLOAD]
              ? static_cast<const std::uint8_t*>(mnl_attr_get_payload(tb[NFQA_PAYLOAD]))
              : nullptr;
      std::size_t plen = pl ? mnl_attr_get_payload_len(tb[NFQA_PAYLOAD]) : 0;
      // The L4 header's offset, and the addresses' offset and length.
      std::size_t l4 = 0, src = 0, alen = 0, l4proto = 0;
      if (plen >= 20 && (pl[0] >> 4) == 4) {
        l4 = (pl[0] & 0xf) * 4u, src = 12, alen = 4, l4proto = pl[9];
      } else if (plen >= 40 && (pl[0] >> 4) == 6) {
        l4 = 40, src = 8, alen = 16, l4proto = pl[6];  // extension headers: not held
      }
      auto proto = ipc::netd::ProtoFromWire(l4proto);
      if (alen == 0 || !proto || plen < l4 + 4) {
        if (Status st = Decide(p.id, Verdict::kAccept); !st.ok()) return st;
        continue;
      }
      auto family = alen == 4 ? common::Family::kIpv4 : common::Family::kIpv6;
      p.proto = *proto;
      p.source = IpAddress::FromBytes(family, pl + src);
      p.destination = {IpAddress::FromBytes(family, pl + src + alen),
                       static_cast<std::uint16_t>(pl[l4 + 2] << 8 | pl[l4 + 3])};
      on_packet(p);
    }
  }
  return Status::Ok();
}

}  // namespace netd
