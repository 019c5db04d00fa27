#include "common/ipc/netd_protocol.h"

#include <cstring>
#include <string_view>

#include <msgpack.hpp>

namespace ipc::netd {
namespace {

using common::AddrPort;
using common::IpAddress;
using common::Result;
using common::Status;

// msgpack limits for peer input: no maps at all, arrays no longer than a
// chunk, strings no longer than an error text, bins no longer than an IPv6
// address, no ext, shallow nesting. Checked by the parser before it allocates.
const msgpack::unpack_limit kLimits(/*array=*/kMaxItemsPerMessage, /*map=*/0,
                                    /*str=*/kMaxErrorText, /*bin=*/16, /*ext=*/0, /*depth=*/6);

// --- Decoding -------------------------------------------------------------------------

class Reader {
 public:
  explicit Reader(std::string path) : path_(std::move(path)) {}

  Status Fail(std::string_view what, const msgpack::object& got) const {
    return Status::ProtocolError(path_ + ": expected " + std::string(what) + ", got " +
                                 TypeName(got));
  }
  Reader At(std::size_t i) const { return Reader(path_ + "[" + std::to_string(i) + "]"); }
  Reader Field(std::string_view name) const { return Reader(path_ + "." + std::string(name)); }
  const std::string& path() const { return path_; }

  static std::string TypeName(const msgpack::object& o) {
    switch (o.type) {
      case msgpack::type::NIL:
        return "nil";
      case msgpack::type::BOOLEAN:
        return "a boolean";
      case msgpack::type::POSITIVE_INTEGER:
        return "the integer " + std::to_string(o.via.u64);
      case msgpack::type::NEGATIVE_INTEGER:
        return "the integer " + std::to_string(o.via.i64);
      case msgpack::type::FLOAT32:
      case msgpack::type::FLOAT64:
        return "a float";
      case msgpack::type::STR:
        return "a string";
      case msgpack::type::BIN:
        return "bin of " + std::to_string(o.via.bin.size) + " bytes";
      case msgpack::type::ARRAY:
        return "an array of " + std::to_string(o.via.array.size);
      case msgpack::type::MAP:
        return "a map";
      case msgpack::type::EXT:
        return "an ext";
    }
    return "an unknown type";
  }

  // An array of exactly `n` elements.
  Result<const msgpack::object*> Tuple(const msgpack::object& o, std::size_t n) const {
    if (o.type != msgpack::type::ARRAY || o.via.array.size != n) {
      return Fail("an array of " + std::to_string(n), o);
    }
    return o.via.array.ptr;
  }
  // An array of at most `max` elements.
  Result<std::span<const msgpack::object>> List(const msgpack::object& o, std::size_t max) const {
    if (o.type != msgpack::type::ARRAY) return Fail("an array", o);
    if (o.via.array.size > max) {
      return Status::ProtocolError(path_ + ": " + std::to_string(o.via.array.size) +
                                   " items; at most " + std::to_string(max) + " per message");
    }
    return std::span<const msgpack::object>(o.via.array.ptr, o.via.array.size);
  }
  Result<std::uint64_t> Uint(const msgpack::object& o, std::uint64_t max) const {
    if (o.type != msgpack::type::POSITIVE_INTEGER || o.via.u64 > max) {
      return Fail("an integer 0-" + std::to_string(max), o);
    }
    return o.via.u64;
  }
  Result<std::int32_t> Int32(const msgpack::object& o) const {
    if (o.type == msgpack::type::POSITIVE_INTEGER && o.via.u64 <= INT32_MAX) {
      return static_cast<std::int32_t>(o.via.u64);
    }
    if (o.type == msgpack::type::NEGATIVE_INTEGER && o.via.i64 >= INT32_MIN) {
      return static_cast<std::int32_t>(o.via.i64);
    }
    return Fail("a 32-bit integer", o);
  }
  Result<bool> Bool(const msgpack::object& o) const {
    if (o.type != msgpack::type::BOOLEAN) return Fail("a boolean", o);
    return o.via.boolean;
  }
  Result<std::string> Str(const msgpack::object& o) const {
    if (o.type != msgpack::type::STR) return Fail("a string", o);
    return std::string(o.via.str.ptr, o.via.str.size);
  }
  Result<IpAddress> Address(const msgpack::object& o) const {
    if (o.type != msgpack::type::BIN || (o.via.bin.size != 4 && o.via.bin.size != 16)) {
      return Fail("bin of 4 or 16 bytes (an IP address)", o);
    }
    if (o.via.bin.size == 4) {
      std::array<std::uint8_t, 4> b;
      std::memcpy(b.data(), o.via.bin.ptr, 4);
      return IpAddress::V4(b);
    }
    std::array<std::uint8_t, 16> b;
    std::memcpy(b.data(), o.via.bin.ptr, 16);
    return IpAddress::V6(b);
  }
  Result<Proto> ProtoField(const msgpack::object& o) const {
    auto v = Uint(o, 255);
    if (!v.ok()) return v.status();
    auto p = ProtoFromWire(*v);
    if (!p) {
      return Status::ProtocolError(path_ + ": unknown protocol " + std::to_string(*v) +
                                   " (6 tcp, 17 udp)");
    }
    return *p;
  }

 private:
  std::string path_;
};

#define PGW_TRY(var, expr)            \
  auto var##_r = (expr);              \
  if (!var##_r.ok()) return var##_r.status(); \
  auto var = std::move(var##_r).value()

Result<MappingKey> ReadKey(const Reader& r, const msgpack::object& o) {
  PGW_TRY(f, r.Tuple(o, 3));
  PGW_TRY(proto, r.Field("proto").ProtoField(f[0]));
  PGW_TRY(listen, r.Field("listen").Address(f[1]));
  PGW_TRY(port, r.Field("port").Uint(f[2], 65535));
  return MappingKey{proto, listen, static_cast<std::uint16_t>(port)};
}

// [proto, listen, port, dest_addr, dest_port, flow_timeout_s]
Result<Mapping> ReadMapping(const Reader& r, const msgpack::object& o) {
  PGW_TRY(f, r.Tuple(o, 6));
  PGW_TRY(proto, r.Field("proto").ProtoField(f[0]));
  PGW_TRY(listen, r.Field("listen").Address(f[1]));
  PGW_TRY(port, r.Field("port").Uint(f[2], 65535));
  PGW_TRY(dest, r.Field("destination").Address(f[3]));
  PGW_TRY(dport, r.Field("destination_port").Uint(f[4], 65535));
  PGW_TRY(timeout, r.Field("flow_timeout").Uint(f[5], UINT32_MAX));
  return Mapping{MappingKey{proto, listen, static_cast<std::uint16_t>(port)},
                 AddrPort{dest, static_cast<std::uint16_t>(dport)},
                 static_cast<std::uint32_t>(timeout)};
}

// A list of at most `max` items, each read by `read_item`.
template <class T>
Result<std::vector<T>> ReadItems(const Reader& r, const msgpack::object& o,
                                 Result<T> (*read_item)(const Reader&, const msgpack::object&),
                                 std::size_t max = kMaxItemsPerMessage) {
  PGW_TRY(items, r.List(o, max));
  std::vector<T> out;
  out.reserve(items.size());
  for (std::size_t i = 0; i < items.size(); ++i) {
    PGW_TRY(item, read_item(r.At(i), items[i]));
    out.push_back(item);
  }
  return out;
}

Result<std::vector<Mapping>> ReadMappings(const Reader& r, const msgpack::object& o) {
  return ReadItems<Mapping>(r, o, ReadMapping);
}

Result<std::vector<MappingKey>> ReadKeys(const Reader& r, const msgpack::object& o) {
  return ReadItems<MappingKey>(r, o, ReadKey);
}

// [address, length]; the length's range is the validator's (it depends on
// the family).
Result<Prefix> ReadPrefix(const Reader& r, const msgpack::object& o) {
  PGW_TRY(f, r.Tuple(o, 2));
  PGW_TRY(addr, r.Field("address").Address(f[0]));
  PGW_TRY(len, r.Field("length").Uint(f[1], 128));
  return Prefix{addr, static_cast<std::uint8_t>(len)};
}

// [proto, listen, port, hold_s, [prefix...]]
Result<Hold> ReadHold(const Reader& r, const msgpack::object& o) {
  PGW_TRY(f, r.Tuple(o, 5));
  PGW_TRY(proto, r.Field("proto").ProtoField(f[0]));
  PGW_TRY(listen, r.Field("listen").Address(f[1]));
  PGW_TRY(port, r.Field("port").Uint(f[2], 65535));
  PGW_TRY(hold_s, r.Field("hold_s").Uint(f[3], UINT32_MAX));
  PGW_TRY(allow, ReadItems<Prefix>(r.Field("allow"), f[4], ReadPrefix, kMaxAllowPrefixes));
  return Hold{MappingKey{proto, listen, static_cast<std::uint16_t>(port)},
              static_cast<std::uint32_t>(hold_s), std::move(allow)};
}

Result<std::vector<Hold>> ReadHolds(const Reader& r, const msgpack::object& o) {
  return ReadItems<Hold>(r, o, ReadHold, kMaxHoldsPerMessage);
}

Result<RequestBody> ReadRequestBody(Op op, const msgpack::object& body) {
  Reader r("body");
  switch (op) {
    case Op::kHello: {
      PGW_TRY(f, r.Tuple(body, 1));
      PGW_TRY(v, r.Field("version").Uint(f[0], UINT32_MAX));
      return RequestBody(HelloRequest{static_cast<std::uint32_t>(v)});
    }
    case Op::kSyncBegin: {
      PGW_TRY(f, r.Tuple(body, 2));
      PGW_TRY(total, r.Field("total").Uint(f[0], UINT32_MAX));
      PGW_TRY(holds, r.Field("holds").Uint(f[1], UINT32_MAX));
      return RequestBody(
          SyncBeginRequest{static_cast<std::uint32_t>(total), static_cast<std::uint32_t>(holds)});
    }
    case Op::kSyncAdd: {
      PGW_TRY(f, r.Tuple(body, 2));
      PGW_TRY(m, ReadMappings(r.Field("mappings"), f[0]));
      PGW_TRY(h, ReadHolds(r.Field("holds"), f[1]));
      return RequestBody(SyncAddRequest{std::move(m), std::move(h)});
    }
    case Op::kSyncCommit: {
      PGW_TRY(f, r.Tuple(body, 0));
      (void)f;
      return RequestBody(SyncCommitRequest{});
    }
    case Op::kChange: {
      PGW_TRY(f, r.Tuple(body, 2));
      PGW_TRY(en, ReadMappings(r.Field("enable"), f[0]));
      PGW_TRY(dis, ReadKeys(r.Field("disable"), f[1]));
      return RequestBody(ChangeRequest{std::move(en), std::move(dis)});
    }
    case Op::kFlush: {
      PGW_TRY(f, r.Tuple(body, 1));
      PGW_TRY(keys, ReadKeys(r.Field("keys"), f[0]));
      return RequestBody(FlushRequest{std::move(keys)});
    }
    case Op::kSubscribe: {
      PGW_TRY(f, r.Tuple(body, 0));
      (void)f;
      return RequestBody(SubscribeRequest{});
    }
    case Op::kShutdown: {
      PGW_TRY(f, r.Tuple(body, 1));
      PGW_TRY(rm, r.Field("remove_table").Bool(f[0]));
      return RequestBody(ShutdownRequest{rm});
    }
    case Op::kHold: {
      PGW_TRY(f, r.Tuple(body, 1));
      PGW_TRY(h, ReadHolds(r.Field("holds"), f[0]));
      return RequestBody(HoldRequest{std::move(h)});
    }
    case Op::kRelease: {
      PGW_TRY(f, r.Tuple(body, 1));
      PGW_TRY(keys, ReadKeys(r.Field("keys"), f[0]));
      return RequestBody(ReleaseRequest{std::move(keys)});
    }
    case Op::kReply:
    case Op::kError:
    case Op::kFlowCounts:
    case Op::kKnock:
      break;
  }
  return Status::ProtocolError(std::string("op ") + OpName(op) + " is not a request");
}

// Unpacks exactly one msgpack value from `bytes` under kLimits.
Result<msgpack::object_handle> Unpack(std::span<const std::uint8_t> bytes) {
  if (bytes.empty()) return Status::ProtocolError("empty message");
  if (bytes.size() > kMaxMessageBytes) {
    return Status::ProtocolError("message of " + std::to_string(bytes.size()) +
                                 " bytes; the limit is " + std::to_string(kMaxMessageBytes));
  }
  std::size_t off = 0;
  msgpack::object_handle h;
  try {
    h = msgpack::unpack(reinterpret_cast<const char*>(bytes.data()), bytes.size(), off, nullptr,
                        nullptr, kLimits);
  } catch (const msgpack::insufficient_bytes&) {
    return Status::ProtocolError("truncated msgpack");
  } catch (const msgpack::unpack_error& e) {
    return Status::ProtocolError(std::string("bad msgpack: ") + e.what());
  } catch (const std::bad_alloc&) {
    return Status::ProtocolError("bad msgpack: too large");
  } catch (const std::exception& e) {
    return Status::ProtocolError(std::string("bad msgpack: ") + e.what());
  }
  if (off != bytes.size()) {
    return Status::ProtocolError(std::to_string(bytes.size() - off) +
                                 " trailing bytes after the message");
  }
  return h;
}

// The envelope [op, id, body].
struct Envelope {
  Op op;
  std::uint32_t id;
  const msgpack::object* body;
};

Result<Envelope> ReadEnvelope(const msgpack::object& root) {
  Reader r("message");
  PGW_TRY(f, r.Tuple(root, 3));
  PGW_TRY(opv, Reader("op").Uint(f[0], 255));
  auto op = OpFromWire(opv);
  if (!op) return Status::ProtocolError("unknown op " + std::to_string(opv));
  PGW_TRY(id, Reader("id").Uint(f[1], UINT32_MAX));
  return Envelope{*op, static_cast<std::uint32_t>(id), &f[2]};
}

// --- Encoding -----------------------------------------------------------------------

using Packer = msgpack::packer<msgpack::sbuffer>;

void PackAddress(Packer& p, const IpAddress& a) {
  p.pack_bin(static_cast<std::uint32_t>(a.size()));
  p.pack_bin_body(reinterpret_cast<const char*>(a.data()), static_cast<std::uint32_t>(a.size()));
}

void PackKey(Packer& p, const MappingKey& k) {
  p.pack_array(3);
  p.pack(static_cast<std::uint8_t>(k.proto));
  PackAddress(p, k.listen);
  p.pack(k.port);
}

void PackHolds(Packer& p, const std::vector<Hold>& holds) {
  p.pack_array(static_cast<std::uint32_t>(holds.size()));
  for (const auto& h : holds) {
    p.pack_array(5);
    p.pack(static_cast<std::uint8_t>(h.key.proto));
    PackAddress(p, h.key.listen);
    p.pack(h.key.port);
    p.pack(h.hold_s);
    p.pack_array(static_cast<std::uint32_t>(h.allow.size()));
    for (const auto& a : h.allow) {
      p.pack_array(2);
      PackAddress(p, a.address);
      p.pack(a.length);
    }
  }
}

void PackMapping(Packer& p, const Mapping& m) {
  p.pack_array(6);
  p.pack(static_cast<std::uint8_t>(m.key.proto));
  PackAddress(p, m.key.listen);
  p.pack(m.key.port);
  PackAddress(p, m.destination.address);
  p.pack(m.destination.port);
  p.pack(m.flow_timeout_s);
}

std::vector<std::uint8_t> Bytes(const msgpack::sbuffer& b) {
  const auto* d = reinterpret_cast<const std::uint8_t*>(b.data());
  return std::vector<std::uint8_t>(d, d + b.size());
}

}  // namespace

std::optional<Op> OpFromWire(std::uint64_t v) {
  switch (v) {
    case 1: return Op::kHello;
    case 2: return Op::kSyncBegin;
    case 3: return Op::kSyncAdd;
    case 4: return Op::kSyncCommit;
    case 5: return Op::kChange;
    case 6: return Op::kFlush;
    case 7: return Op::kSubscribe;
    case 8: return Op::kShutdown;
    case 9:
      return Op::kHold;
    case 10:
      return Op::kRelease;
    case 64: return Op::kReply;
    case 65: return Op::kError;
    case 66: return Op::kFlowCounts;
    case 67:
      return Op::kKnock;
    default: return std::nullopt;
  }
}

const char* OpName(Op op) {
  switch (op) {
    case Op::kHello: return "hello";
    case Op::kSyncBegin: return "sync-begin";
    case Op::kSyncAdd: return "sync-add";
    case Op::kSyncCommit: return "sync-commit";
    case Op::kChange: return "change";
    case Op::kFlush: return "flush";
    case Op::kSubscribe: return "subscribe";
    case Op::kShutdown: return "shutdown";
    case Op::kHold:
      return "hold";
    case Op::kRelease:
      return "release";
    case Op::kReply: return "reply";
    case Op::kError: return "error";
    case Op::kFlowCounts: return "flow-counts";
    case Op::kKnock:
      return "knock";
  }
  return "?";
}

std::optional<Proto> ProtoFromWire(std::uint64_t v) {
  if (v == 6) return Proto::kTcp;
  if (v == 17) return Proto::kUdp;
  return std::nullopt;
}

const char* ProtoName(Proto p) { return p == Proto::kTcp ? "tcp" : "udp"; }

std::optional<WarningCode> WarningCodeFromWire(std::uint64_t v) {
  if (v == 1) return WarningCode::kRouteLocalnetOff;
  if (v == 2) return WarningCode::kIpv6LoopbackLocalOnly;
  return std::nullopt;
}

std::optional<ErrorCode> ErrorCodeFromWire(std::uint64_t v) {
  if (v >= 1 && v <= 9) return static_cast<ErrorCode>(v);
  return std::nullopt;
}

const char* ErrorCodeName(ErrorCode c) {
  switch (c) {
    case ErrorCode::kMalformed: return "malformed";
    case ErrorCode::kInvalid: return "invalid";
    case ErrorCode::kPhase: return "out of order";
    case ErrorCode::kLimit: return "over limit";
    case ErrorCode::kVersion: return "unsupported version";
    case ErrorCode::kBusy: return "busy";
    case ErrorCode::kKernel: return "kernel refused";
    case ErrorCode::kNotInstalled: return "not installed";
    case ErrorCode::kDenied: return "permission denied";
  }
  return "?";
}

std::string MappingKey::ToString() const {
  return std::string(ProtoName(proto)) + " " + AddrPort{listen, port}.ToString();
}

std::string Prefix::ToString() const { return address.ToString() + "/" + std::to_string(length); }

std::string Mapping::ToString() const {
  return key.ToString() + " -> " + destination.ToString() + " (" +
         std::to_string(flow_timeout_s) + "s)";
}

Op Request::op() const {
  static constexpr Op kOps[] = {Op::kHello,  Op::kSyncBegin, Op::kSyncAdd,   Op::kSyncCommit,
                                Op::kChange, Op::kFlush,     Op::kSubscribe, Op::kShutdown,
                                Op::kHold,   Op::kRelease};
  return kOps[body.index()];
}

std::vector<std::uint8_t> EncodeRequest(const Request& r) {
  msgpack::sbuffer buf;
  Packer p(buf);
  p.pack_array(3);
  p.pack(static_cast<std::uint8_t>(r.op()));
  p.pack(r.id);
  std::visit(
      [&](const auto& b) {
        using T = std::decay_t<decltype(b)>;
        if constexpr (std::is_same_v<T, HelloRequest>) {
          p.pack_array(1);
          p.pack(b.version);
        } else if constexpr (std::is_same_v<T, SyncBeginRequest>) {
          p.pack_array(2);
          p.pack(b.total);
          p.pack(b.holds);
        } else if constexpr (std::is_same_v<T, SyncAddRequest>) {
          p.pack_array(2);
          p.pack_array(static_cast<std::uint32_t>(b.mappings.size()));
          for (const auto& m : b.mappings) PackMapping(p, m);
          PackHolds(p, b.holds);
        } else if constexpr (std::is_same_v<T, HoldRequest>) {
          p.pack_array(1);
          PackHolds(p, b.holds);
        } else if constexpr (std::is_same_v<T, ReleaseRequest>) {
          p.pack_array(1);
          p.pack_array(static_cast<std::uint32_t>(b.keys.size()));
          for (const auto& k : b.keys) PackKey(p, k);
        } else if constexpr (std::is_same_v<T, ChangeRequest>) {
          p.pack_array(2);
          p.pack_array(static_cast<std::uint32_t>(b.enable.size()));
          for (const auto& m : b.enable) PackMapping(p, m);
          p.pack_array(static_cast<std::uint32_t>(b.disable.size()));
          for (const auto& k : b.disable) PackKey(p, k);
        } else if constexpr (std::is_same_v<T, FlushRequest>) {
          p.pack_array(1);
          p.pack_array(static_cast<std::uint32_t>(b.keys.size()));
          for (const auto& k : b.keys) PackKey(p, k);
        } else if constexpr (std::is_same_v<T, ShutdownRequest>) {
          p.pack_array(1);
          p.pack(b.remove_table);
        } else {  // SyncCommit, Subscribe
          p.pack_array(0);
        }
      },
      r.body);
  return Bytes(buf);
}

Result<Request> DecodeRequest(std::span<const std::uint8_t> bytes) {
  auto h = Unpack(bytes);
  if (!h.ok()) return h.status();
  PGW_TRY(env, ReadEnvelope(h->get()));
  if (env.id == 0) return Status::ProtocolError("id: a request id must not be 0");
  PGW_TRY(body, ReadRequestBody(env.op, *env.body));
  return Request{env.id, std::move(body)};
}

std::vector<std::uint8_t> EncodeMessage(const NetdMessage& m) {
  msgpack::sbuffer buf;
  Packer p(buf);
  p.pack_array(3);
  if (const auto* reply = std::get_if<ReplyBody>(&m.body)) {
    p.pack(static_cast<std::uint8_t>(Op::kReply));
    p.pack(m.id);
    std::visit(
        [&](const auto& b) {
          using T = std::decay_t<decltype(b)>;
          if constexpr (std::is_same_v<T, HelloReply>) {
            p.pack_array(6);
            p.pack(1);
            p.pack(b.version);
            p.pack(b.persistent_table);
            p.pack(b.max_mappings);
            p.pack(b.mark_mask);
            p.pack(b.installed);
          } else if constexpr (std::is_same_v<T, ApplyReply>) {
            p.pack_array(5);
            p.pack(2);
            p.pack(b.added);
            p.pack(b.removed);
            p.pack(b.unchanged);
            p.pack_array(static_cast<std::uint32_t>(b.warnings.size()));
            for (const auto& w : b.warnings) {
              p.pack_array(2);
              PackKey(p, w.key);
              p.pack(static_cast<std::uint8_t>(w.code));
            }
          } else {
            p.pack_array(1);
            p.pack(3);
          }
        },
        *reply);
  } else if (const auto* err = std::get_if<ErrorReply>(&m.body)) {
    p.pack(static_cast<std::uint8_t>(Op::kError));
    p.pack(m.id);
    p.pack_array(3);
    p.pack(static_cast<std::uint8_t>(err->code));
    p.pack(err->err);
    p.pack(err->message.substr(0, kMaxErrorText));
  } else if (const auto* knock = std::get_if<KnockPush>(&m.body)) {
    p.pack(static_cast<std::uint8_t>(Op::kKnock));
    p.pack(0);
    p.pack_array(5);
    p.pack(static_cast<std::uint8_t>(knock->key.proto));
    PackAddress(p, knock->key.listen);
    p.pack(knock->key.port);
    PackAddress(p, knock->source);
    p.pack(knock->held);
  } else {
    const auto& push = std::get<FlowCountsPush>(m.body);
    p.pack(static_cast<std::uint8_t>(Op::kFlowCounts));
    p.pack(0);
    p.pack_array(2);
    p.pack(push.reset);
    p.pack_array(static_cast<std::uint32_t>(push.counts.size()));
    for (const auto& c : push.counts) {
      p.pack_array(4);
      p.pack(static_cast<std::uint8_t>(c.proto));
      PackAddress(p, c.destination.address);
      p.pack(c.destination.port);
      p.pack(c.flows);
    }
  }
  return Bytes(buf);
}

Result<NetdMessage> DecodeMessage(std::span<const std::uint8_t> bytes) {
  auto h = Unpack(bytes);
  if (!h.ok()) return h.status();
  PGW_TRY(env, ReadEnvelope(h->get()));
  const msgpack::object& body = *env.body;
  Reader r("body");
  NetdMessage m;
  m.id = env.id;
  switch (env.op) {
    case Op::kReply: {
      if (body.type != msgpack::type::ARRAY || body.via.array.size == 0) {
        return r.Fail("a reply [kind, ...]", body);
      }
      PGW_TRY(kind, r.Field("kind").Uint(body.via.array.ptr[0], 255));
      if (kind == 1) {
        PGW_TRY(f, r.Tuple(body, 6));
        HelloReply h;
        PGW_TRY(v, r.Field("version").Uint(f[1], UINT32_MAX));
        PGW_TRY(pt, r.Field("persistent_table").Bool(f[2]));
        PGW_TRY(mm, r.Field("max_mappings").Uint(f[3], UINT32_MAX));
        PGW_TRY(mask, r.Field("mark_mask").Uint(f[4], UINT32_MAX));
        PGW_TRY(inst, r.Field("installed").Uint(f[5], UINT32_MAX));
        h.version = static_cast<std::uint32_t>(v);
        h.persistent_table = pt;
        h.max_mappings = static_cast<std::uint32_t>(mm);
        h.mark_mask = static_cast<std::uint32_t>(mask);
        h.installed = static_cast<std::uint32_t>(inst);
        m.body = ReplyBody(h);
      } else if (kind == 2) {
        PGW_TRY(f, r.Tuple(body, 5));
        ApplyReply a;
        PGW_TRY(added, r.Field("added").Uint(f[1], UINT32_MAX));
        PGW_TRY(removed, r.Field("removed").Uint(f[2], UINT32_MAX));
        PGW_TRY(unchanged, r.Field("unchanged").Uint(f[3], UINT32_MAX));
        a.added = static_cast<std::uint32_t>(added);
        a.removed = static_cast<std::uint32_t>(removed);
        a.unchanged = static_cast<std::uint32_t>(unchanged);
        Reader wr = r.Field("warnings");
        PGW_TRY(items, wr.List(f[4], kMaxItemsPerMessage));
        for (std::size_t i = 0; i < items.size(); ++i) {
          Reader ir = wr.At(i);
          PGW_TRY(w, ir.Tuple(items[i], 2));
          PGW_TRY(key, ReadKey(ir.Field("key"), w[0]));
          PGW_TRY(code, ir.Field("code").Uint(w[1], 255));
          auto c = WarningCodeFromWire(code);
          if (!c) return Status::ProtocolError(ir.path() + ".code: unknown warning " + std::to_string(code));
          a.warnings.push_back(Warning{key, *c});
        }
        m.body = ReplyBody(std::move(a));
      } else if (kind == 3) {
        PGW_TRY(f, r.Tuple(body, 1));
        (void)f;
        m.body = ReplyBody(EmptyReply{});
      } else {
        return Status::ProtocolError("body.kind: unknown reply kind " + std::to_string(kind));
      }
      return m;
    }
    case Op::kError: {
      PGW_TRY(f, r.Tuple(body, 3));
      PGW_TRY(code, r.Field("code").Uint(f[0], 255));
      auto c = ErrorCodeFromWire(code);
      if (!c) return Status::ProtocolError("body.code: unknown error code " + std::to_string(code));
      PGW_TRY(err, r.Field("errno").Int32(f[1]));
      PGW_TRY(msg, r.Field("message").Str(f[2]));
      m.body = ErrorReply{*c, err, std::move(msg)};
      return m;
    }
    case Op::kFlowCounts: {
      if (env.id != 0) return Status::ProtocolError("id: a push has id 0");
      PGW_TRY(f, r.Tuple(body, 2));
      FlowCountsPush push;
      PGW_TRY(reset, r.Field("reset").Bool(f[0]));
      push.reset = reset;
      Reader cr = r.Field("counts");
      PGW_TRY(items, cr.List(f[1], kMaxItemsPerMessage));
      for (std::size_t i = 0; i < items.size(); ++i) {
        Reader ir = cr.At(i);
        PGW_TRY(c, ir.Tuple(items[i], 4));
        PGW_TRY(proto, ir.Field("proto").ProtoField(c[0]));
        PGW_TRY(addr, ir.Field("destination").Address(c[1]));
        PGW_TRY(port, ir.Field("port").Uint(c[2], 65535));
        PGW_TRY(flows, ir.Field("flows").Uint(c[3], UINT32_MAX));
        push.counts.push_back(DestinationCount{proto, AddrPort{addr, static_cast<std::uint16_t>(port)},
                                               static_cast<std::uint32_t>(flows)});
      }
      m.body = std::move(push);
      return m;
    }
    case Op::kKnock: {
      if (env.id != 0) return Status::ProtocolError("id: a push has id 0");
      PGW_TRY(f, r.Tuple(body, 5));
      PGW_TRY(proto, r.Field("proto").ProtoField(f[0]));
      PGW_TRY(listen, r.Field("listen").Address(f[1]));
      PGW_TRY(port, r.Field("port").Uint(f[2], 65535));
      PGW_TRY(source, r.Field("source").Address(f[3]));
      PGW_TRY(held, r.Field("held").Uint(f[4], UINT32_MAX));
      m.body = KnockPush{MappingKey{proto, listen, static_cast<std::uint16_t>(port)}, source,
                         static_cast<std::uint32_t>(held)};
      return m;
    }
    default:
      return Status::ProtocolError(std::string("op ") + OpName(env.op) + " is not sent by netd");
  }
}

std::uint32_t PeekRequestId(std::span<const std::uint8_t> bytes) {
  auto h = Unpack(bytes);
  if (!h.ok()) return 0;
  const msgpack::object& o = h->get();
  if (o.type != msgpack::type::ARRAY || o.via.array.size < 2) return 0;
  const msgpack::object& id = o.via.array.ptr[1];
  if (id.type != msgpack::type::POSITIVE_INTEGER || id.via.u64 > UINT32_MAX) return 0;
  return static_cast<std::uint32_t>(id.via.u64);
}

}  // namespace ipc::netd
