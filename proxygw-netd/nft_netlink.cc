// netd's nfnetlink transport: batches and queries; see nft_netlink.h. Runs
// inside proxygw-netd only.
#include "proxygw-netd/nft_netlink.h"

// <arpa/inet.h> and <netinet/in.h> must come before <linux/netfilter.h>.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <linux/netfilter.h>
#include <linux/netfilter/nfnetlink.h>

#include <cerrno>
#include <ctime>

namespace netd::nft {

using common::Result;
using common::Status;

namespace {

// Acks are read from one datagram at a time: the kernel packs them into
// skbs of at most 16 KiB (NLMSG_GOODSIZE) but may use a larger one for a
// single message; 64 KiB covers both.
constexpr std::size_t kAckBuffer = 64 << 10;

}  // namespace

Batch::Batch(std::uint32_t* seq) : seq_(seq) {
  // A message is written past the page end into the overrun area, so the
  // overrun must hold the largest message: a SETELEM of up to 64 KiB.
  batch_.reset(nftnl_batch_alloc(kBatchPage, kBatchOverrun));
  nftnl_batch_begin(static_cast<char*>(nftnl_batch_buffer(batch_.get())), (*seq_)++);
  nftnl_batch_update(batch_.get());
}

nlmsghdr* Batch::Begin(std::uint16_t type, std::uint16_t flags, std::string what) {
  std::uint32_t s = (*seq_)++;
  what_.emplace_back(s, std::move(what));
  return nftnl_nlmsg_build_hdr(static_cast<char*>(nftnl_batch_buffer(batch_.get())), type,
                               NFPROTO_INET, flags | NLM_F_ACK, s);
}

nftnl_batch* Batch::Finish() {
  nftnl_batch_end(static_cast<char*>(nftnl_batch_buffer(batch_.get())), (*seq_)++);
  nftnl_batch_update(batch_.get());
  return batch_.get();
}

const std::string& Batch::What(std::uint32_t seq) const {
  static const std::string kBatch = "batch";
  for (const auto& [s, w] : what_) {
    if (s == seq) return w;
  }
  return kBatch;
}

Result<Netlink> Netlink::Open(const char* name, int buffer) {
  Netlink n;
  n.sock_.reset(mnl_socket_open(NETLINK_NETFILTER));
  if (!n.sock_) return Status::FromErrno(std::string("open ") + name + " socket", errno);
  if (mnl_socket_bind(n.sock_.get(), 0, MNL_SOCKET_AUTOPID) < 0) {
    return Status::FromErrno(std::string("bind ") + name + " socket", errno);
  }
  int fd = n.fd();
  int size = buffer;
  // Best effort: without *FORCE the kernel caps the size at [rw]mem_max.
  if (setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &size, sizeof size) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &size, sizeof size);
  }
  if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &size, sizeof size) != 0) {
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &size, sizeof size);
  }
  // Error acks carry only the failing message's header, not the whole
  // message (up to 64 KiB), so that every ack fits the receive buffer.
  int one = 1;
  if (setsockopt(fd, SOL_NETLINK, NETLINK_CAP_ACK, &one, sizeof one) != 0) {
    return Status::FromErrno(std::string("set NETLINK_CAP_ACK on the ") + name + " socket", errno);
  }
  n.portid_ = mnl_socket_get_portid(n.sock_.get());
  n.seq_ = static_cast<std::uint32_t>(time(nullptr));
  return n;
}

Status Netlink::Transact(Batch& b) {
  nftnl_batch* batch = b.Finish();
  int n = nftnl_batch_iovec_len(batch);
  std::vector<iovec> iov(static_cast<std::size_t>(n));
  nftnl_batch_iovec(batch, iov.data(), static_cast<std::uint32_t>(n));
  sockaddr_nl snl{};
  snl.nl_family = AF_NETLINK;
  msghdr msg{};
  msg.msg_name = &snl;
  msg.msg_namelen = sizeof snl;
  msg.msg_iov = iov.data();
  msg.msg_iovlen = iov.size();
  if (sendmsg(fd(), &msg, 0) < 0) {
    return Status::FromErrno("send nftables batch", errno);
  }
  // Every message asked for an ack (NLM_F_ACK): the batch is done only when
  // each was acknowledged without error. A truncated read or a missing ack is
  // an unknown outcome, reported as a failure, never as success.
  Status first_error;
  std::size_t acks = 0;
  std::vector<char> buf(kAckBuffer);
  for (;;) {
    ssize_t got = recv(fd(), buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
    if (got < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) break;
      if (errno == EINTR) continue;
      return Fail(Status::FromErrno("read nftables acks", errno));
    }
    if (static_cast<std::size_t>(got) > buf.size()) {
      return Fail(Status::IoError("an nftables ack of " + std::to_string(got) +
                                  " bytes was truncated; the batch's outcome is unknown"));
    }
    int len = static_cast<int>(got);
    for (auto* h = reinterpret_cast<nlmsghdr*>(buf.data()); mnl_nlmsg_ok(h, len);
         h = mnl_nlmsg_next(h, &len)) {
      if (h->nlmsg_type != NLMSG_ERROR) continue;
      ++acks;
      const auto* e = static_cast<const nlmsgerr*>(mnl_nlmsg_get_payload(h));
      if (e->error != 0 && first_error.ok()) {
        first_error = Status::FromErrno(b.What(h->nlmsg_seq), -e->error);
        first_error_errno_ = -e->error;
      }
    }
  }
  if (first_error.ok() && acks < b.messages()) {
    return Fail(Status::IoError("the kernel acknowledged " + std::to_string(acks) + " of " +
                                std::to_string(b.messages()) + " nftables messages"));
  }
  return first_error;
}

Status Netlink::Fail(Status st) {
  first_error_errno_ = EIO;
  return st;
}

nlmsghdr* Netlink::Header(char* buf, std::uint16_t type, std::uint16_t flags) {
  return nftnl_nlmsg_build_hdr(buf, type, NFPROTO_INET, flags | NLM_F_ACK, seq_++);
}

Status Netlink::Send(const nlmsghdr* h, const std::string& what) {
  if (mnl_socket_sendto(sock_.get(), h, h->nlmsg_len) < 0) return Status::FromErrno(what, errno);
  return Status::Ok();
}

Status Netlink::Query(nlmsghdr* req, const std::function<void(const nlmsghdr*)>& on_msg,
                      const char* what) {
  if (Status st = Send(req, what); !st.ok()) return st;
  std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE * 4);
  struct Ctx {
    const std::function<void(const nlmsghdr*)>* f;
  } ctx{&on_msg};
  auto cb = [](const nlmsghdr* h, void* data) -> int {
    (*static_cast<Ctx*>(data)->f)(h);
    return MNL_CB_OK;
  };
  for (;;) {
    ssize_t got = mnl_socket_recvfrom(sock_.get(), buf.data(), buf.size());
    if (got < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno(what, errno);
    }
    int rc =
        mnl_cb_run(buf.data(), static_cast<std::size_t>(got), req->nlmsg_seq, portid_, cb, &ctx);
    if (rc < 0) return Status::FromErrno(what, errno);
    if (rc == MNL_CB_STOP) return Status::Ok();
  }
}

}  // namespace netd::nft
