// FlowTracker: netd's view of conntrack. It follows the flows netd DNATed
// (status IPS_DST_NAT and a ct mark inside netd's mark mask) through
// conntrack NEW and DESTROY events, takes filtered snapshots after an event
// overrun or on request, probes single flows, and deletes flows by mark. Runs inside proxygw-netd only; it
// opens all its netlink sockets in Open(), before the seccomp filter is loaded,
// and never opens another.
//
// No periodic dumps: between snapshots, the event socket is the only input,
// and a BPF filter attached to it in the kernel drops the events of flows that
// are not ours (mark & mask == 0), so other traffic costs netd nothing.
//
// Why Probe: the kernel sends DESTROY for an expired entry only when its
// garbage collector or a lookup finds it, and the collector may wait up to
// a minute on a quiet table. A GET of the one entry is such a lookup: it
// returns a live entry's remaining timeout, or reaps an expired one.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <vector>

#include "common/net_address.h"
#include "common/status.h"

namespace netd {

// One conntrack entry netd DNATed.
struct TrackedFlow {
  std::uint32_t id = 0;    // conntrack id (CTA_ID), unique among live entries
  std::uint32_t mark = 0;  // the full ct mark
  std::uint8_t l4proto = 0;                // IPPROTO_TCP or IPPROTO_UDP
  common::AddrPort destination;            // reply-direction source: the backend
  common::AddrPort orig_source;            // the original tuple, to find the entry again
  common::AddrPort orig_destination;
  // Seconds left when seen, as the kernel reports them: rounded down, so 0
  // means under a second left, not "none". nullopt if the kernel did not say.
  std::optional<std::uint32_t> timeout_s;
};

// No UPDATE: while anyone listens to a conntrack event group, the kernel
// builds a message for every event of that group in the namespace (the BPF
// filter runs after), and a TCP connection has five or more state changes.
// netd does not need them: at the deadline it holds for a flow it probes it,
// a live flow answers with its real remaining time, and since no state of a
// DNATed flow has a timeout above flow_timeout, a closed flow is gone, and
// stops counting, within flow_timeout of its last packet (plus a second, the
// probe's slack), whether or not its DESTROY event ever comes.
enum class FlowEventType { kNew, kDestroy };

struct FlowEvent {
  FlowEventType type;
  TrackedFlow flow;
};

class FlowTracker {
 public:
  // Opens the event socket (NEW and DESTROY groups, receive buffer forced to
  // `rcvbuf_bytes` with SO_RCVBUFFORCE, non-blocking, BPF filter accepting only
  // marks with (mark & mark_mask) != 0) and a second socket for dumps and
  // deletes. `mark_mask` must be non-zero. Needs CAP_NET_ADMIN in the network
  // namespace. Errors name the step that failed and the errno text.
  static common::Result<std::unique_ptr<FlowTracker>> Open(std::uint32_t mark_mask,
                                                           int rcvbuf_bytes = 8 << 20);
  ~FlowTracker();
  FlowTracker(const FlowTracker&) = delete;
  FlowTracker& operator=(const FlowTracker&) = delete;

  // The event socket, for epoll (readable when events are pending).
  int event_fd() const;

  enum class ReadResult {
    kDrained,  // no more events pending (EAGAIN)
    kOverrun,  // the kernel dropped events (ENOBUFS): the caller must Snapshot()
  };
  // Reads every pending event and calls `on_event` for each NEW or DESTROY of
  // a TCP or UDP flow that has IPS_DST_NAT and (mark & mark_mask) != 0;
  // others are skipped (the BPF filter already drops most). Never blocks. On
  // an overrun it first discards what is still queued (bounded), so that the
  // caller's Snapshot is not followed by stale events. A socket error, an
  // unparsable event, or an exception from `on_event` is returned as a Status
  // (the caller should then Snapshot).
  common::Result<ReadResult> ReadEvents(const std::function<void(const FlowEvent&)>& on_event);

  // Every current conntrack entry (IPv4 and IPv6) with IPS_DST_NAT (filtered
  // in the kernel) and (mark & mark_mask) != 0 (filtered here). One dump per
  // family, on the second socket.
  common::Result<std::vector<TrackedFlow>> Snapshot();

  // Looks up the one conntrack entry of `flow` (by its original tuple). The
  // entry as it is now (its timeout_s is the time it has left) if it is
  // still the same live entry; nullopt if it is gone (expired entries are
  // reaped by the lookup, which also sends their DESTROY event), or if the
  // tuple now belongs to another entry.
  common::Result<std::optional<TrackedFlow>> Probe(const TrackedFlow& flow);

  // Sets the time left of `flow`'s entry (found by its original tuple) to
  // `timeout_s`: a flow that is not under netd's timeout policy (see
  // FlowCounter, re-timing). Its next packet refreshes it to the kernel's
  // default again. An entry gone meanwhile is not an error.
  common::Status Retime(const TrackedFlow& flow, std::uint32_t timeout_s);

  // Deletes the conntrack entries of `l4proto` to `to` (any address of its
  // family when `to` is unspecified) that were neither DNATed nor answered:
  // what packets refused while a hold key was cold leave behind (a UDP
  // client's later datagrams would follow that entry, un-NATed, until it
  // expires). One filtered dump, then a delete per entry. Returns how many
  // were deleted.
  common::Result<std::size_t> DeleteUnanswered(std::uint8_t l4proto, const common::AddrPort& to);

  // Deletes, in the kernel, every conntrack entry whose (mark & mark_mask) ==
  // `mark` (one IPCTNL_MSG_CT_DELETE with CTA_MARK/CTA_MARK_MASK and no tuple;
  // one message covers both families). Deleting nothing is not an error. A
  // mark of 0 or with bits outside the mask is InvalidArgument: it would
  // delete flows that are not netd's.
  common::Status FlushMark(std::uint32_t mark);

 private:
  struct Impl;
  explicit FlowTracker(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace netd
