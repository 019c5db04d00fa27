// The netd protocol: what the engine and proxygw-netd say to each other over
// one Unix SOCK_SEQPACKET connection, one message per packet. Both processes
// include this header; it is the closed request set of the privileged helper.
//
// Every message is a msgpack array [op, id, body], body an array whose shape
// depends on op (see each struct). Requests go engine -> netd with id >= 1;
// netd answers each with a Reply or an Error carrying the same id, in order.
// FlowCounts and Knock messages are pushed by netd with id 0 after Subscribe.
//
// The wire carries what to forward, never how: no table, chain or set names,
// rule text, paths or free-form strings travel to netd. Addresses are msgpack
// bin of 4 or 16 bytes, network order; ports are integers; a protocol is its
// IANA number (6 tcp, 17 udp).
//
// Adding a request means touching Op, its body struct, RequestBody, the codec
// (netd_protocol.cc), netd's dispatch table and validator, a test and the fuzz
// corpus.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <variant>
#include <vector>

#include "common/net_address.h"
#include "common/status.h"

namespace ipc::netd {

// 2: holds (Hold, Release, Knock; holds in SyncBegin and SyncAdd).
inline constexpr std::uint32_t kProtocolVersion = 2;
// Largest message either side sends or accepts. Fits the default socket
// buffers (net.core.wmem_max is 212992), so no privilege is needed to send it.
inline constexpr std::size_t kMaxMessageBytes = 64 * 1024;
// Mappings (or keys) in one message. A full sync larger than this is split
// into SyncAdd chunks; a 30-byte mapping times 1024 stays under the limit.
inline constexpr std::size_t kMaxItemsPerMessage = 1024;
// Holds in one message (a hold carries up to kMaxAllowPrefixes prefixes, so
// fewer fit in kMaxMessageBytes than mappings do).
inline constexpr std::size_t kMaxHoldsPerMessage = 128;
// Source prefixes one hold may allow.
inline constexpr std::size_t kMaxAllowPrefixes = 16;
// Longest hold netd accepts: a TCP client gives up its SYN retries after
// about two minutes (net.ipv4.tcp_syn_retries=6), so holding longer is moot.
inline constexpr std::uint32_t kMaxHoldSeconds = 300;
// Longest error message text netd sends.
inline constexpr std::size_t kMaxErrorText = 512;

enum class Op : std::uint8_t {
  // engine -> netd
  kHello = 1,       // first request, exactly once
  kSyncBegin = 2,   // start a full sync: the desired set follows in SyncAdd
  kSyncAdd = 3,     // a chunk of the desired set
  kSyncCommit = 4,  // reconcile the kernel to the desired set, one transaction
  kChange = 5,      // enable and disable mappings, one transaction
  kFlush = 6,       // delete the conntrack entries of mappings
  kSubscribe = 7,   // start FlowCounts pushes, beginning with a snapshot
  kShutdown = 8,    // netd exits after replying, optionally removing the table
  kHold = 9,        // set or clear the holds of keys
  kRelease = 10,    // refuse the packets held for keys (their warm failed)
  // netd -> engine
  kReply = 64,
  kError = 65,
  kFlowCounts = 66,
  kKnock = 67,  // a packet is held for a key (pushed, id 0)
};
std::optional<Op> OpFromWire(std::uint64_t v);
const char* OpName(Op op);

enum class Proto : std::uint8_t { kTcp = 6, kUdp = 17 };
std::optional<Proto> ProtoFromWire(std::uint64_t v);
const char* ProtoName(Proto p);

// Identifies a mapping: at most one mapping per (proto, listen, port). A
// listen address of 0.0.0.0 or :: is a wildcard: every local address of that
// family.
struct MappingKey {
  Proto proto = Proto::kTcp;
  common::IpAddress listen;
  std::uint16_t port = 0;

  bool wildcard() const { return listen.IsUnspecified(); }
  std::string ToString() const;  // "tcp 198.18.0.1:80", "udp [::]:53"
  friend auto operator<=>(const MappingKey&, const MappingKey&) = default;
};

struct Mapping {
  MappingKey key;
  common::AddrPort destination;  // same family as key.listen
  std::uint32_t flow_timeout_s = 0;

  std::string ToString() const;  // "tcp 198.18.0.1:80 -> 198.18.2.2:8080 (60s)"
  friend bool operator==(const Mapping&, const Mapping&) = default;
};

// A source prefix: `address` with its host bits zero, `length` 0-32 (IPv4)
// or 0-128 (IPv6). Wire: [address, length].
struct Prefix {
  common::IpAddress address;
  std::uint8_t length = 0;
  std::string ToString() const;  // "198.18.1.0/24"
  friend auto operator<=>(const Prefix&, const Prefix&) = default;
};

// Holds: what netd does with a new flow's packets to a key that has a hold
// while that key is cold (no mapping installed for it).
//
//   - Such packets (a TCP SYN, a UDP datagram: conntrack state new) from a
//     source inside `allow` (empty: any source) are queued in the kernel
//     before DNAT, not refused. Sources outside `allow` are not held: they
//     meet the closed port, as without a hold. netd sees only their headers.
//   - netd pushes a Knock for the key to the subscribed engine: one when the
//     first packet is held, then at most one per key per second while more
//     arrive (a thousand SYNs are a handful of knocks), and, at Subscribe,
//     one for every key that has packets held at that moment.
//   - A Change (or SyncCommit) that installs the key's mapping releases its
//     held packets in the same step, after the mapping is in the kernel: they
//     are DNATed like any first packet, so the client's first connect()
//     simply succeeds. For UDP, netd first deletes the conntrack entries to
//     the key that are not DNATed (left by packets refused while cold), so a
//     client that kept sending from one socket reaches the backend.
//   - Release refuses the held packets of a key at once (they meet the closed
//     port: TCP RST, ICMP port unreachable); so does netd itself for each
//     packet held `hold_s` seconds. A client never waits on a target that is
//     not coming.
//   - Bounds: at most 256 packets held per key and 4,096 in all; past them
//     new packets are dropped (the client retransmits), not refused. If netd
//     is not running, packets to a cold hold key are dropped too (no
//     fail-open), and the next netd holds the retransmissions once the
//     engine's full sync has restated the holds (netd drops them until
//     then): a netd restart is invisible to clients but for a retransmit
//     delay. Packets held by a netd that dies are dropped by the kernel.
//   - A key with a hold whose mapping is disabled goes back to holding in the
//     same transaction. A hold stays (in the kernel table, across netd and
//     engine restarts: an engine that goes away leaves netd holding, each
//     packet up to its hold_s) until cleared by Hold with hold_s 0 (which
//     refuses what it held) or left out of a full sync. Every full sync must
//     restate all holds, of warm keys too. Release does not clear a hold.
//   - A packet that an installed mapping forwards is never held: with a
//     specific hold and a wildcard mapping of the same port (or the other
//     way round), the mapping wins. Hold refuses a hold that overlaps an
//     installed mapping that way; Change does not look at holds.
//
// The engine's side, in order: Hello; a full sync with every mapping that
// is on and every hold (SyncBegin [mappings, holds], SyncAdd chunks,
// SyncCommit); Subscribe (then FlowCounts and Knock pushes arrive). On a
// Knock for a key: warm its target (once, however many knocks), then Change
// (enable) when it is ready, or Release when the warm failed. Hold whenever
// the config gives or takes a key's hold. netd answers each request in
// order; Knocks may come between replies.
// Wire: [proto, listen, port, hold_s, [prefix...]].
struct Hold {
  MappingKey key;
  std::uint32_t hold_s = 0;   // 1-kMaxHoldSeconds; 0 in a Hold request clears the key's hold
  std::vector<Prefix> allow;  // up to kMaxAllowPrefixes, the key's family, not overlapping
  friend bool operator==(const Hold&, const Hold&) = default;
};

// --- Request bodies -----------------------------------------------------------

struct HelloRequest {  // [version]
  std::uint32_t version = kProtocolVersion;
};
// [total, holds]: how many mappings and holds the SyncAdd chunks will carry.
struct SyncBeginRequest {
  std::uint32_t total = 0;
  std::uint32_t holds = 0;
};
// [[mapping...], [hold...]]: up to kMaxItemsPerMessage mappings and
// kMaxHoldsPerMessage holds; send them in separate chunks (either list may be
// empty) to stay under kMaxMessageBytes. SyncCommit makes both the installed
// mappings and the holds exactly the staged sets (holds with hold_s >= 1).
struct SyncAddRequest {
  std::vector<Mapping> mappings;
  std::vector<Hold> holds{};
};
struct SyncCommitRequest {};  // []
struct ChangeRequest {        // [[mapping...], [key...]]
  std::vector<Mapping> enable;
  std::vector<MappingKey> disable;
};
struct FlushRequest {  // [[key...]]
  std::vector<MappingKey> keys;
};
struct SubscribeRequest {};  // []
struct ShutdownRequest {     // [remove_table]
  bool remove_table = false;
};
// [[hold...]]: sets the hold of each key (replacing its hold_s and allow
// list), or clears it (hold_s 0: packets held for it are refused). One
// transaction; keys not listed keep theirs. Up to kMaxHoldsPerMessage.
struct HoldRequest {
  std::vector<Hold> holds{};
};
// [[key...]]: refuses every packet held for these keys now (the warm failed).
// A key with nothing held is not an error. The holds stay: later packets are
// held again (and knock again) while the key is cold.
struct ReleaseRequest {
  std::vector<MappingKey> keys;
};

using RequestBody =
    std::variant<HelloRequest, SyncBeginRequest, SyncAddRequest, SyncCommitRequest, ChangeRequest,
                 FlushRequest, SubscribeRequest, ShutdownRequest, HoldRequest, ReleaseRequest>;

struct Request {
  std::uint32_t id = 0;
  RequestBody body;
  Op op() const;
};

// --- netd -> engine ---------------------------------------------------------------

// Why a mapping is installed but may not work for every client.
enum class WarningCode : std::uint8_t {
  // DNAT to 127.0.0.0/8 from remote clients needs net.ipv4.conf.*.route_localnet=1,
  // which is 0; netd does not change sysctls. Local clients are unaffected.
  kRouteLocalnetOff = 1,
  // DNAT to ::1 works for local clients only: IPv6 has no route_localnet.
  kIpv6LoopbackLocalOnly = 2,
};
std::optional<WarningCode> WarningCodeFromWire(std::uint64_t v);

struct Warning {
  MappingKey key;
  WarningCode code;
  friend bool operator==(const Warning&, const Warning&) = default;
};

// Reply bodies: [kind, fields...], kind 1 hello, 2 apply, 3 empty; which kind
// answers which request is fixed (Hello: hello; SyncCommit, Change: apply;
// the rest: empty).
struct HelloReply {  // [1, version, persistent_table, max_mappings, mark_mask, installed]
  std::uint32_t version = kProtocolVersion;
  bool persistent_table = false;  // owner+persist flags (kernel 6.9+)
  std::uint32_t max_mappings = 0;
  std::uint32_t mark_mask = 0;
  std::uint32_t installed = 0;  // mappings in the kernel table now
};
// Answer to SyncCommit and Change: [2, added, removed, unchanged, [[key, code]...]].
struct ApplyReply {
  std::uint32_t added = 0;
  std::uint32_t removed = 0;
  std::uint32_t unchanged = 0;
  std::vector<Warning> warnings;
};
struct EmptyReply {};  // [3]: SyncBegin, SyncAdd, Flush, Subscribe, Shutdown, Hold, Release

using ReplyBody = std::variant<HelloReply, ApplyReply, EmptyReply>;

enum class ErrorCode : std::uint8_t {
  kMalformed = 1,     // not a message of this protocol; the connection is closed
  kInvalid = 2,       // a field failed validation; the connection is closed
  kPhase = 3,         // out of order (no hello, commit without begin...); closed
  kLimit = 4,         // over a configured limit (mappings, sizes); closed
  kVersion = 5,       // protocol version not supported; closed
  kBusy = 6,          // another engine is connected; closed
  kKernel = 7,        // the kernel refused a valid request (errno set); nothing applied
  kNotInstalled = 8,  // Flush of a mapping netd does not know; nothing flushed
  kDenied = 9,        // the peer's uid is not the engine's; closed
};
std::optional<ErrorCode> ErrorCodeFromWire(std::uint64_t v);
const char* ErrorCodeName(ErrorCode c);

struct ErrorReply {  // [code, errno, message]
  ErrorCode code = ErrorCode::kInvalid;
  std::int32_t err = 0;  // errno for kKernel, else 0
  std::string message;
};

// Active DNATed flows to one destination.
struct DestinationCount {
  Proto proto = Proto::kTcp;
  common::AddrPort destination;
  std::uint32_t flows = 0;
  friend bool operator==(const DestinationCount&, const DestinationCount&) = default;
};
// [reset, [[proto, addr, port, flows]...]]. reset: forget every count held
// before; destinations not listed in this and the following non-reset pushes
// have 0 flows. A snapshot too large for one message continues in non-reset
// pushes sent back to back.
struct FlowCountsPush {
  bool reset = false;
  std::vector<DestinationCount> counts;
};

// [proto, listen, port, source, held]: packets are held for `key` (as the
// hold names it: a wildcard key for a wildcard hold); `source` sent the
// latest; `held` is how many are held for the key now. See Hold for when
// knocks are sent. The engine's answer is to warm the key's target and then
// Change (enable), or Release if the warm fails.
struct KnockPush {
  MappingKey key;
  common::IpAddress source;
  std::uint32_t held = 0;
  friend bool operator==(const KnockPush&, const KnockPush&) = default;
};

// What netd sends: a reply to request `id`, an error for request `id` (0 when
// the request id could not be read), or a push (id 0).
struct NetdMessage {
  std::uint32_t id = 0;
  std::variant<ReplyBody, ErrorReply, FlowCountsPush, KnockPush> body;
};

// --- Codec ---------------------------------------------------------------------------
// Decoders check shape and types only (array sizes, integer ranges, address
// lengths, known enum values, no trailing bytes, msgpack limits); meaning
// (ports non-zero, families matching, counts against netd's limits, phase) is
// the validators' job. They never throw. Errors say where: "body[0][3].port:
// expected an integer 0-65535, got a string".

std::vector<std::uint8_t> EncodeRequest(const Request& r);
common::Result<Request> DecodeRequest(std::span<const std::uint8_t> bytes);

std::vector<std::uint8_t> EncodeMessage(const NetdMessage& m);
common::Result<NetdMessage> DecodeMessage(std::span<const std::uint8_t> bytes);

// Best effort: the request id of a message that failed to decode, so that the
// error reply can carry it; 0 when unreadable.
std::uint32_t PeekRequestId(std::span<const std::uint8_t> bytes);

}  // namespace ipc::netd
