// HoldQueue: the nfqueue that the hold chains of NftTable queue a cold hold
// key's first packets to. It reads the headers of each held packet (never
// its payload: the copy range covers the IP and L4 headers' addresses and
// ports) and gives verdicts by packet id. Runs inside proxygw-netd only; its
// netlink socket is opened in Open(), before the sandbox, and never again.
//
// Verdicts: kAccept lets a packet continue to the hooks after the hold chain
// (mark, DNAT): DNATed if its key's mapping is installed by then, otherwise
// it meets the closed port and is refused (TCP RST, ICMP unreachable).
// kDrop drops it (the client retransmits). Packet ids are valid only on this
// socket: when netd exits, the kernel drops what it still holds
// (docs/kernel-hold.md).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <utility>
#include <vector>

#include "common/ipc/netd_protocol.h"
#include "common/net_address.h"
#include "common/status.h"
#include "proxygw-netd/nft_netlink.h"

namespace netd {

struct HeldPacket {
  std::uint32_t id = 0;
  ipc::netd::Proto proto = ipc::netd::Proto::kTcp;
  common::IpAddress source;
  common::AddrPort destination;
};

class HoldQueue {
 public:
  enum class Verdict { kAccept, kDrop };
  // The most packets netd holds at once (and the kernel queue's length).
  static constexpr std::uint32_t kMaxHeld = 4096;

  // Binds queue `num` (copy mode: headers only; at most `max_len` packets
  // queued in the kernel, beyond which it drops them). Needs CAP_NET_ADMIN.
  // Fails if another socket has bound that queue.
  static common::Result<std::unique_ptr<HoldQueue>> Open(std::uint16_t num, std::uint32_t max_len);
  HoldQueue(const HoldQueue&) = delete;
  HoldQueue& operator=(const HoldQueue&) = delete;

  int fd() const { return nl_.fd(); }

  // Reads the packets queued now (a bounded number per call; the socket
  // stays readable for the rest), without blocking, and passes each TCP or
  // UDP packet to `on_packet`, which must give it a verdict (now or later).
  // Anything else is accepted at once.
  common::Status Read(const std::function<void(const HeldPacket&)>& on_packet);

  common::Status Decide(std::uint32_t id, Verdict v);

 private:
  HoldQueue(nft::Netlink nl, std::uint16_t num) : nl_(std::move(nl)), num_(num) {}
  // A message to the queue at the start of `b`.
  nlmsghdr* Header(char* b, std::uint16_t type);

  nft::Netlink nl_;
  std::uint16_t num_ = 0;
  std::vector<char> buf_ = std::vector<char>(1 << 16);
};

}  // namespace netd
