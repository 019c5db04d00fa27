// The ctl protocol: what proxygwctl (or any client of the original's ctl
// socket) and the engine's ctl plugin say to each other over one Unix stream
// socket. Both sides include this header; it is byte-compatible with the Go
// original, plus the additions marked below.
//
// The stream carries packets `{"id": uint32, "method": uint16, "body": {...}}`
// with no length prefix, in one of two codecs chosen by configuration:
//   - JSON lines: each packet is compact JSON followed by "\n"; readers accept
//     any JSON whitespace between packets (and none).
//   - CBOR sequence: back-to-back CBOR maps with text keys (RFC 8742).
// Requests carry id >= 1; a response carries its request's id; id 0 is a
// notification. Response methods are the odd ids below 32768, notifications
// the ids from 32768 up. Keys are matched as Go's decoders do: exact first,
// then ignoring ASCII case; unknown keys are ignored.
//
// This header holds the methods and their bodies, and one packet's encoding
// and decoding; ctl_stream.h splits a connection's byte stream into packets.
// Library code: no logging, no I/O. nlohmann_json does the parsing; no
// exception leaves these functions.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/ha_role.h"
#include "common/status.h"

namespace ipc::ctl {

// Largest packet the engine accepts from a client (its bytes on the wire,
// without whitespace before it). Over it, the connection is dropped.
inline constexpr std::size_t kMaxRequestBytes = 64 * 1024;
// Largest packet a client accepts from the engine: a status response grows
// with the number of targets and frontends.
inline constexpr std::size_t kMaxResponseBytes = 16 * 1024 * 1024;
// Deepest nesting of arrays and maps (the packet itself is level 1). A status
// response needs 7.
inline constexpr std::size_t kMaxDepth = 32;

enum class Codec : std::uint8_t { kJson, kCbor };
// "json" or "cbor", with surrounding whitespace trimmed and in any case, as
// the original; an empty (or all-blank) text is json. nullopt otherwise.
std::optional<Codec> ParseCodec(std::string_view text);
const char* CodecName(Codec c);  // "json" / "cbor"

// Every method id the original defines (its section 12.2 table), and our
// additions from 256 up (clear of the original's table). Status, WarmTarget,
// DrainTarget, Reload and Role are served; the others are recognised, and answered
// "unsupported method N" by the engine.
enum class Method : std::uint16_t {
  kEmpty = 0,
  kErrorResponse = 1,
  kStatusRequest = 2,
  kStatusResponse = 3,
  kPluginInitRequest = 4,
  kPluginInitResponse = 5,
  kNewTargetRequest = 6,
  kNewTargetResponse = 7,
  kWarmTargetRequest = 8,  // the original defined but never served 8-11
  kWarmTargetResponse = 9,
  kDrainTargetRequest = 10,
  kDrainTargetResponse = 11,
  kCloseTargetRequest = 12,
  kCloseTargetResponse = 13,
  kNewFrontendRequest = 14,
  kNewFrontendResponse = 15,
  kStartFrontendRequest = 16,
  kStartFrontendResponse = 17,
  kStopFrontendRequest = 18,
  kStopFrontendResponse = 19,
  kCloseFrontendRequest = 20,
  kCloseFrontendResponse = 21,
  kReloadRequest = 256,  // addition: re-read the config file, apply the difference
  kReloadResponse = 257,
  kRoleRequest = 258,  // addition: the node's HA role, from keepalived's notify hook
  kRoleResponse = 259,
  kFrontendShouldWarmNotification = 32768,
};
std::optional<Method> MethodFromWire(std::uint64_t v);
const char* MethodName(Method m);  // "StatusRequest"
constexpr bool IsResponse(std::uint16_t m) { return m < 32768 && (m & 1) == 1; }
constexpr bool IsNotification(std::uint16_t m) { return m >= 32768; }

// A protocol field: the strings "tcp"/"udp" in JSON, the integers 6/17 in
// CBOR (the original's CBOR encoding). Decoders accept either form in either
// codec.
enum class Protocol : std::uint8_t { kTcp = 6, kUdp = 17 };
const char* ProtocolName(Protocol p);  // "tcp" / "udp"

// --- Bodies -------------------------------------------------------------------

// {msg, code}. `code` is an addition: the Status code behind the error
// ("not_found", "unavailable", ...; see ErrorCodeName), so that a client can
// tell an unknown target from other failures; omitted when empty, and empty
// when the peer (the original) does not send it.
struct ErrorResponse {
  std::string msg;
  std::string code;
  friend bool operator==(const ErrorResponse&, const ErrorResponse&) = default;
};
struct StatusRequest {  // {}
  friend bool operator==(const StatusRequest&, const StatusRequest&) = default;
};

struct EndpointStatus {  // {name, protocol, address, addresses}
  std::string name;
  Protocol protocol = Protocol::kTcp;
  // Encoded as "address" (the first); with two, also "addresses" (both).
  std::vector<std::string> addresses;
  friend bool operator==(const EndpointStatus&, const EndpointStatus&) = default;
};

struct TargetStatus {  // {name, kind, state, last_error, flows, since, kept_warm_by, endpoints}
  std::string name;
  std::string kind;
  std::string state;
  std::string last_error;  // omitted when empty
  // Additions; absent (nullopt) in the original's responses.
  std::optional<std::uint32_t> flows;
  std::optional<std::chrono::system_clock::time_point> since;  // RFC 3339 UTC text
  std::string kept_warm_by;  // the frontend that keeps it from idling out; omitted when empty
  std::vector<EndpointStatus> endpoints;  // omitted when empty
  // Addition, on an HA follower: "live" (its backend answers, mappings on)
  // or "down"; omitted when empty (a master, or no ha section).
  std::string follow{};
  friend bool operator==(const TargetStatus&, const TargetStatus&) = default;
};

struct FrontendStatus {
  // {name, kind, state, last_error, protocol, listen, target_name,
  //  endpoint_name, proxyaddress, proxyaddresses, knocks, last_knock_from}
  std::string name;
  std::string kind;
  std::string state;
  std::string last_error;  // omitted when empty
  Protocol protocol = Protocol::kTcp;
  std::string listen;
  std::string target_name;
  std::string endpoint_name;
  // Encoded as "proxyaddress" (the first, "" when none); with two, also
  // "proxyaddresses" (both).
  std::vector<std::string> proxy_addresses;
  // Additions, for a frontend that holds first packets (static:hold): knocks
  // since it started (absent for other kinds), the latest one's source
  // (omitted when empty).
  std::optional<std::uint64_t> knocks{};
  std::string last_knock_from{};
  friend bool operator==(const FrontendStatus&, const FrontendStatus&) = default;
};

struct StatusResponse {  // {closed, dataplane, role, targets, frontends}
  bool closed = false;
  // Addition: "dataplane": "connected" | "disconnected"; nullopt when absent.
  std::optional<bool> dataplane_connected;
  std::vector<TargetStatus> targets;      // omitted when empty
  std::vector<FrontendStatus> frontends;  // omitted when empty
  // Addition: the node's HA role, "master" | "backup" | "fault"; omitted when
  // empty (no ha section). Decoded as any string.
  std::string role{};
  friend bool operator==(const StatusResponse&, const StatusResponse&) = default;
};

struct WarmTargetRequest {  // {name}
  std::string name;
  friend bool operator==(const WarmTargetRequest&, const WarmTargetRequest&) = default;
};
struct WarmTargetResponse {  // {}
  friend bool operator==(const WarmTargetResponse&, const WarmTargetResponse&) = default;
};
struct DrainTargetRequest {  // {name}
  std::string name;
  friend bool operator==(const DrainTargetRequest&, const DrainTargetRequest&) = default;
};
struct DrainTargetResponse {  // {}
  friend bool operator==(const DrainTargetResponse&, const DrainTargetResponse&) = default;
};

struct ReloadRequest {  // {}
  friend bool operator==(const ReloadRequest&, const ReloadRequest&) = default;
};
// Names by what the reload does with them: {added, removed, changed,
// unchanged}, each a list of names (omitted when empty).
struct ChangeList {
  std::vector<std::string> added, removed, changed, unchanged;
  friend bool operator==(const ChangeList&, const ChangeList&) = default;
};
// {applied, errors, targets, frontends, remapped}. Refused (applied false):
// `errors`, one located error each ("file:line:col: path: message"), the
// running config staying. Applied: the plan; `remapped` names the unchanged
// targets whose mappings were updated in place. Lists omitted when empty.
struct ReloadResponse {
  bool applied = false;
  std::vector<std::string> errors;
  ChangeList targets;
  ChangeList frontends;
  std::vector<std::string> remapped;
  friend bool operator==(const ReloadResponse&, const ReloadResponse&) = default;
};

// {role}: "master", "backup" or "fault" (any other text is refused by the
// decoder, naming body.role).
struct RoleRequest {
  common::HaRole role = common::HaRole::kMaster;
  friend bool operator==(const RoleRequest&, const RoleRequest&) = default;
};
// {role, previous}: the role now, and the one before the request.
struct RoleResponse {
  common::HaRole role = common::HaRole::kMaster;
  common::HaRole previous = common::HaRole::kMaster;
  friend bool operator==(const RoleResponse&, const RoleResponse&) = default;
};

// std::monostate: a method whose body this side does not decode (every method
// not listed here, including the recognised but unsupported ones).
using Body = std::variant<std::monostate, ErrorResponse, StatusRequest, StatusResponse,
                          WarmTargetRequest, WarmTargetResponse, DrainTargetRequest,
                          DrainTargetResponse, ReloadRequest, ReloadResponse, RoleRequest,
                          RoleResponse>;
// The method of a body; must not be called on std::monostate.
Method MethodOf(const Body& body);

// The wire name of a Status code: "invalid_argument", "not_found",
// "already_exists", "permission_denied", "unavailable", "io_error",
// "protocol_error", "internal"; "" for ok.
const char* ErrorCodeName(common::Status::Code code);
// An ErrorResponse carrying `status` (not ok): its message and code name.
ErrorResponse ErrorFrom(const common::Status& status);

// "2024-05-01T12:00:00Z": UTC, whole seconds (the fraction is dropped).
std::string FormatTime(std::chrono::system_clock::time_point t);
// RFC 3339: "YYYY-MM-DDTHH:MM:SS", an optional fraction, then "Z" or
// "+HH:MM"/"-HH:MM" ('T' and 'Z' in either case). nullopt otherwise.
std::optional<std::chrono::system_clock::time_point> ParseTime(std::string_view text);

// --- Encoding -----------------------------------------------------------------

// One packet, ready to write: compact JSON plus "\n", or one CBOR map. Keys
// in the original's order (id, method, body; the body's fields as listed
// above). `body` must not be std::monostate. Text that is not valid UTF-8 is
// sent with U+FFFD in place of the bad bytes (JSON only; CBOR sends it as is).
std::string EncodePacket(Codec codec, std::uint32_t id, const Body& body);

// A status response as proxygwctl prints it (and the original did): JSON,
// 2-space indent, keys in wire order, protocol as "tcp"/"udp", with a
// trailing newline.
std::string StatusResponseText(const StatusResponse& status);
// A reload response as proxygwctl prints it: one line per non-empty list
// ("targets added: a, b"), or the errors, one a line; trailing newline.
std::string ReloadResponseText(const ReloadResponse& reload);

// --- Decoding -----------------------------------------------------------------

// One packet read from the stream.
struct Packet {
  std::uint32_t id = 0;
  // As on the wire, including unknown ids. 0 when "method" was missing or not
  // a uint16 (then `body` holds that error).
  std::uint16_t method = 0;
  // The body decoded for `method`: std::monostate for methods not decoded
  // here. An InvalidArgument error when the packet was read whole but its
  // method or body is wrong ("body" missing, null, not a map, a field of the
  // wrong type); the stream stays usable after it. The message names the
  // method and the field.
  common::Result<Body> body = Body{};
};

// One whole packet's bytes (as StreamDecoder, ctl_stream.h, delimits them)
// into a Packet. Errors are ProtocolError: bytes that are not the codec's
// syntax, a packet that is not a map, an "id" that is missing or not a
// uint32; a bad method or body is the Packet's `body` error instead.
common::Result<Packet> DecodePacket(Codec codec, std::string_view bytes);

}  // namespace ipc::ctl
