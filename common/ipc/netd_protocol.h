// The netd protocol: what the engine and proxygw-netd say to each other over
// one Unix SOCK_SEQPACKET connection, one message per packet. Both processes
// include this header; it is the closed request set of the privileged helper.
//
// Every message is a msgpack array [op, id, body], body an array whose shape
// depends on op (see each struct). Requests go engine -> netd with id >= 1;
// netd answers each with a Reply or an Error carrying the same id, in order.
// FlowCounts messages are pushed by netd with id 0 after Subscribe.
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

inline constexpr std::uint32_t kProtocolVersion = 1;
// Largest message either side sends or accepts. Fits the default socket
// buffers (net.core.wmem_max is 212992), so no privilege is needed to send it.
inline constexpr std::size_t kMaxMessageBytes = 64 * 1024;
// Mappings (or keys) in one message. A full sync larger than this is split
// into SyncAdd chunks; a 30-byte mapping times 1024 stays under the limit.
inline constexpr std::size_t kMaxItemsPerMessage = 1024;
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
  // netd -> engine
  kReply = 64,
  kError = 65,
  kFlowCounts = 66,
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

// --- Request bodies -----------------------------------------------------------

struct HelloRequest {  // [version]
  std::uint32_t version = kProtocolVersion;
};
struct SyncBeginRequest {  // [total]: how many mappings the SyncAdd chunks will carry
  std::uint32_t total = 0;
};
struct SyncAddRequest {  // [[mapping...]]
  std::vector<Mapping> mappings;
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

using RequestBody = std::variant<HelloRequest, SyncBeginRequest, SyncAddRequest, SyncCommitRequest,
                                 ChangeRequest, FlushRequest, SubscribeRequest, ShutdownRequest>;

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
struct EmptyReply {};  // [3]: SyncBegin, SyncAdd, Flush, Subscribe, Shutdown

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

// What netd sends: a reply to request `id`, an error for request `id` (0 when
// the request id could not be read), or a push (id 0).
struct NetdMessage {
  std::uint32_t id = 0;
  std::variant<ReplyBody, ErrorReply, FlowCountsPush> body;
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
