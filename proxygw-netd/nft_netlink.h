// The netlink transport of netd's nftables work: one nfnetlink socket, the
// batches (transactions) sent on it, and queries (gets and dumps); HoldQueue
// uses the same socket class for nfqueue. Runs inside proxygw-netd only; the
// sockets are opened before the sandbox and never again (an owned table
// accepts changes only from its owner's socket).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "common/c_handles.h"
#include "common/status.h"

namespace netd::nft {

// One batch of nftables messages, with what each message does for errors.
class Batch {
 public:
  static constexpr std::uint32_t kBatchPage = 256 << 10;
  static constexpr std::uint32_t kBatchOverrun = 128 << 10;

  explicit Batch(std::uint32_t* seq);

  // A message header at the end of the batch; describe what it does.
  nlmsghdr* Begin(std::uint16_t type, std::uint16_t flags, std::string what);
  void End() { nftnl_batch_update(batch_.get()); }
  // One message: Begin, `build`'s payload of `obj` (an nftnl object), End.
  template <class T>
  void Put(std::uint16_t type, std::uint16_t flags, std::string what,
           void (*build)(nlmsghdr*, T*), std::type_identity_t<T>* obj) {
    build(Begin(type, flags, std::move(what)), obj);
    End();
  }
  std::size_t messages() const { return what_.size(); }

  // Closes the batch and returns it for sending.
  nftnl_batch* Finish();
  // What the message with sequence number `seq` does ("batch" if none).
  const std::string& What(std::uint32_t seq) const;

 private:
  std::uint32_t* seq_;
  common::NftnlBatch batch_;
  std::vector<std::pair<std::uint32_t, std::string>> what_;
};

// A NETLINK_NETFILTER socket.
class Netlink {
 public:
  // Socket buffers for large batches and dumps.
  static constexpr int kSocketBuffer = 64 << 20;

  // A bound socket with buffers of `buffer` bytes (forced: netd has
  // CAP_NET_ADMIN); errors name it "<name> socket".
  static common::Result<Netlink> Open(const char* name = "nfnetlink", int buffer = kSocketBuffer);

  int fd() const { return mnl_socket_get_fd(sock_.get()); }
  std::uint32_t* seq() { return &seq_; }
  // Sends one message; `what` names it in the error.
  common::Status Send(const nlmsghdr* h, const std::string& what);

  // Sends a batch and collects the kernel's answers. The kernel runs the
  // whole transaction inside sendmsg(), so every ack or error is queued when
  // it returns. All or nothing: on error the kernel applied nothing. An
  // outcome that cannot be read (a truncated ack, acks missing) is an error
  // too: success means every message was acknowledged.
  common::Status Transact(Batch& b);
  // The errno of the last failed Transact.
  int last_errno() const { return first_error_errno_; }

  // Sends one request (a dump when `flags` has NLM_F_DUMP) and passes each
  // reply message to `on_msg` until the kernel is done (its ack or the
  // dump's end), or returns the error the kernel acked. Messages the kernel
  // sends on its own (seq 0) reach `on_msg` too.
  common::Status Query(nlmsghdr* req, const std::function<void(const nlmsghdr*)>& on_msg,
                       const char* what);
  // Query with a request of `type` whose payload `build` makes of `obj`.
  template <class T>
  common::Status Get(std::uint16_t type, std::uint16_t flags, void (*build)(nlmsghdr*, T*),
                     std::type_identity_t<T>* obj,
                     const std::function<void(const nlmsghdr*)>& on_msg, const std::string& what) {
    std::vector<char> buf(MNL_SOCKET_BUFFER_SIZE);
    build(Header(buf.data(), type, flags), obj);
    return Query(reinterpret_cast<nlmsghdr*>(buf.data()), on_msg, what.c_str());
  }

 private:
  Netlink() = default;
  nlmsghdr* Header(char* buf, std::uint16_t type, std::uint16_t flags);
  common::Status Fail(common::Status st);  // an unknown outcome (EIO)
  common::MnlSocket sock_;
  std::uint32_t portid_ = 0;
  std::uint32_t seq_ = 0;
  int first_error_errno_ = 0;
};

}  // namespace netd::nft
