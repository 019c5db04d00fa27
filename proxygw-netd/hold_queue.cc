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
#include <vector>

#include "common/c_handles.h"

namespace netd {

using common::IpAddress;
using common::Status;

namespace {

// Enough of a packet for its addresses and ports: an IPv4 header with
// options (60) or an IPv6 header (40), then the L4 ports (4).
constexpr std::uint32_t kCopyRange = 64;

}  // namespace

struct HoldQueue::Impl {
  common::MnlSocket sock;
  std::uint16_t num = 0;
  std::uint32_t seq = 0;
  std::vector<char> buf = std::vector<char>(1 << 16);

  nlmsghdr* Header(char* b, std::uint16_t type) {
    nlmsghdr* h = mnl_nlmsg_put_header(b);
    h->nlmsg_type = (NFNL_SUBSYS_QUEUE << 8) | type;
    h->nlmsg_flags = NLM_F_REQUEST;
    h->nlmsg_seq = ++seq;
    auto* g = static_cast<nfgenmsg*>(mnl_nlmsg_put_extra_header(h, sizeof(nfgenmsg)));
    g->nfgen_family = AF_UNSPEC;
    g->version = NFNETLINK_V0;
    g->res_id = htons(num);
    return h;
  }

  // Sends `h` and waits for its ACK: configuration steps must not fail silently.
  Status Configure(nlmsghdr* h, const char* what) {
    h->nlmsg_flags |= NLM_F_ACK;
    if (mnl_socket_sendto(sock.get(), h, h->nlmsg_len) < 0) return Status::FromErrno(what, errno);
    ssize_t n = mnl_socket_recvfrom(sock.get(), buf.data(), buf.size());
    if (n < 0) return Status::FromErrno(what, errno);
    if (mnl_cb_run(buf.data(), static_cast<std::size_t>(n), h->nlmsg_seq, 0, nullptr, nullptr) <
        0) {
      return Status::FromErrno(what, errno);
    }
    return Status::Ok();
  }
};

HoldQueue::HoldQueue(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HoldQueue::~HoldQueue() = default;

common::Result<std::unique_ptr<HoldQueue>> HoldQueue::Open(std::uint16_t num,
                                                           std::uint32_t max_len) {
  auto impl = std::make_unique<Impl>();
  impl->num = num;
  impl->sock.reset(mnl_socket_open(NETLINK_NETFILTER));
  if (!impl->sock) return Status::FromErrno("open nfqueue socket", errno);
  if (mnl_socket_bind(impl->sock.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return Status::FromErrno("bind nfqueue socket", errno);
  }
  int fd = mnl_socket_get_fd(impl->sock.get());
  int size = 4 << 20;  // a burst of held packets' headers (under 200 bytes each)
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  std::array<char, 512> b{};
  nlmsghdr* h = impl->Header(b.data(), NFQNL_MSG_CONFIG);
  nfqnl_msg_config_cmd cmd{NFQNL_CFG_CMD_BIND, 0, 0};
  mnl_attr_put(h, NFQA_CFG_CMD, sizeof cmd, &cmd);
  std::string what = "bind nfqueue " + std::to_string(num);
  if (Status st = impl->Configure(h, what.c_str()); !st.ok()) return st;
  h = impl->Header(b.data(), NFQNL_MSG_CONFIG);
  nfqnl_msg_config_params params{htonl(kCopyRange), NFQNL_COPY_PACKET};
  mnl_attr_put(h, NFQA_CFG_PARAMS, sizeof params, &params);
  mnl_attr_put_u32(h, NFQA_CFG_QUEUE_MAXLEN, htonl(max_len));
  if (Status st = impl->Configure(h, "configure nfqueue"); !st.ok()) return st;
  return std::unique_ptr<HoldQueue>(new HoldQueue(std::move(impl)));
}

int HoldQueue::fd() const { return mnl_socket_get_fd(impl_->sock.get()); }

Status HoldQueue::Decide(std::uint32_t id, Verdict v) {
  std::array<char, 128> b{};
  nlmsghdr* h = impl_->Header(b.data(), NFQNL_MSG_VERDICT);
  nfqnl_msg_verdict_hdr vh{htonl(v == Verdict::kAccept ? NF_ACCEPT : NF_DROP), htonl(id)};
  mnl_attr_put(h, NFQA_VERDICT_HDR, sizeof vh, &vh);
  if (mnl_socket_sendto(impl_->sock.get(), h, h->nlmsg_len) < 0) {
    return Status::FromErrno("nfqueue verdict", errno);
  }
  return Status::Ok();
}

Status HoldQueue::Read(const std::function<void(const HeldPacket&)>& on_packet) {
  for (;;) {
    ssize_t n = recv(fd(), impl_->buf.data(), impl_->buf.size(), MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return Status::Ok();
      if (errno == EINTR || errno == ENOBUFS) continue;  // the kernel dropped some: retransmitted
      return Status::FromErrno("read nfqueue", errno);
    }
    int len = static_cast<int>(n);
    for (auto* m = reinterpret_cast<const nlmsghdr*>(impl_->buf.data()); mnl_nlmsg_ok(m, len);
         m = mnl_nlmsg_next(m, &len)) {
      if ((m->nlmsg_type & 0xff) != NFQNL_MSG_PACKET || (m->nlmsg_type >> 8) != NFNL_SUBSYS_QUEUE) {
        continue;
      }
      std::array<const nlattr*, NFQA_MAX + 1> tb{};
      mnl_attr_parse(
          m, sizeof(nfgenmsg),
          [](const nlattr* a, void* d) -> int {
            auto& t = *static_cast<std::array<const nlattr*, NFQA_MAX + 1>*>(d);
            if (mnl_attr_get_type(a) <= NFQA_MAX) t[mnl_attr_get_type(a)] = a;
            return MNL_CB_OK;
          },
          &tb);
      if (!tb[NFQA_PACKET_HDR] ||
          mnl_attr_get_payload_len(tb[NFQA_PACKET_HDR]) < sizeof(nfqnl_msg_packet_hdr)) {
        continue;
      }
      const auto* ph =
          static_cast<const nfqnl_msg_packet_hdr*>(mnl_attr_get_payload(tb[NFQA_PACKET_HDR]));
      HeldPacket p;
      p.id = ntohl(ph->packet_id);
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
      auto addr = [&](std::size_t at) {
        if (alen == 4) return IpAddress::V4({pl[at], pl[at + 1], pl[at + 2], pl[at + 3]});
        std::array<std::uint8_t, 16> a;
        std::memcpy(a.data(), pl + at, 16);
        return IpAddress::V6(a);
      };
      p.proto = *proto;
      p.source = addr(src);
      p.destination = {addr(src + alen), static_cast<std::uint16_t>(pl[l4 + 2] << 8 | pl[l4 + 3])};
      on_packet(p);
    }
  }
}

}  // namespace netd
