#include "common/ipc/ctl_protocol.h"

#include "common/field_path.h"

#include <algorithm>
#include <cassert>
#include <cstdio>
#include <limits>
#include <utility>

#include <nlohmann/json.hpp>

namespace ipc::ctl {
namespace {

using Json = nlohmann::json;
using OJson = nlohmann::ordered_json;
using common::Result;
using common::Status;

template <class... F>
struct Overloaded : F... {
  using F::operator()...;
};
template <class... F>
Overloaded(F...) -> Overloaded<F...>;

// --- Encoding -------------------------------------------------------------------

OJson ProtocolValue(Protocol p, bool cbor) {
  if (cbor) return static_cast<int>(p);
  return ProtocolName(p);
}

OJson EncodeEndpoint(const EndpointStatus& e, bool cbor) {
  OJson o = OJson::object();
  o["name"] = e.name;
  o["protocol"] = ProtocolValue(e.protocol, cbor);
  o["address"] = e.addresses.empty() ? std::string() : e.addresses.front();
  if (e.addresses.size() > 1) o["addresses"] = e.addresses;
  return o;
}

OJson EncodeTarget(const TargetStatus& t, bool cbor) {
  OJson o = OJson::object();
  o["name"] = t.name;
  o["kind"] = t.kind;
  o["state"] = t.state;
  if (!t.last_error.empty()) o["last_error"] = t.last_error;
  if (t.flows) o["flows"] = *t.flows;
  if (t.since) o["since"] = FormatTime(*t.since);
  if (!t.kept_warm_by.empty()) o["kept_warm_by"] = t.kept_warm_by;
  if (!t.endpoints.empty()) {
    OJson eps = OJson::array();
    for (const auto& e : t.endpoints) eps.push_back(EncodeEndpoint(e, cbor));
    o["endpoints"] = std::move(eps);
  }
  return o;
}

OJson EncodeFrontend(const FrontendStatus& f, bool cbor) {
  OJson o = OJson::object();
  o["name"] = f.name;
  o["kind"] = f.kind;
  o["state"] = f.state;
  if (!f.last_error.empty()) o["last_error"] = f.last_error;
  o["protocol"] = ProtocolValue(f.protocol, cbor);
  o["listen"] = f.listen;
  o["target_name"] = f.target_name;
  o["endpoint_name"] = f.endpoint_name;
  o["proxyaddress"] = f.proxy_addresses.empty() ? std::string() : f.proxy_addresses.front();
  if (f.proxy_addresses.size() > 1) o["proxyaddresses"] = f.proxy_addresses;
  if (f.knocks) o["knocks"] = *f.knocks;
  if (!f.last_knock_from.empty()) o["last_knock_from"] = f.last_knock_from;
  return o;
}

OJson EncodeStatus(const StatusResponse& s, bool cbor) {
  OJson o = OJson::object();
  o["closed"] = s.closed;
  if (s.dataplane_connected) o["dataplane"] = *s.dataplane_connected ? "connected" : "disconnected";
  if (!s.targets.empty()) {
    OJson ts = OJson::array();
    for (const auto& t : s.targets) ts.push_back(EncodeTarget(t, cbor));
    o["targets"] = std::move(ts);
  }
  if (!s.frontends.empty()) {
    OJson fs = OJson::array();
    for (const auto& f : s.frontends) fs.push_back(EncodeFrontend(f, cbor));
    o["frontends"] = std::move(fs);
  }
  return o;
}

OJson NameBody(const std::string& name) {
  OJson o = OJson::object();
  o["name"] = name;
  return o;
}

OJson EncodeBody(const Body& body, bool cbor) {
  return std::visit(
      Overloaded{
          [](const std::monostate&) -> OJson {
            assert(false && "EncodeBody: no body to encode");
            return OJson::object();
          },
          [](const ErrorResponse& e) {
            OJson o = OJson::object();
            o["msg"] = e.msg;
            if (!e.code.empty()) o["code"] = e.code;
            return o;
          },
          [cbor](const StatusResponse& s) { return EncodeStatus(s, cbor); },
          [](const WarmTargetRequest& r) { return NameBody(r.name); },
          [](const DrainTargetRequest& r) { return NameBody(r.name); },
          [](const auto&) { return OJson::object(); },  // the empty bodies
      },
      body);
}

// Compact JSON; bad UTF-8 replaced rather than thrown about.
std::string Dump(const OJson& j, int indent) {
  return j.dump(indent, ' ', /*ensure_ascii=*/false, OJson::error_handler_t::replace);
}

// --- Decoding helpers ------------------------------------------------------------

bool EqualFoldAscii(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    char x = a[i], y = b[i];
    if (x >= 'A' && x <= 'Z') x = static_cast<char>(x - 'A' + 'a');
    if (y >= 'A' && y <= 'Z') y = static_cast<char>(y - 'A' + 'a');
    if (x != y) return false;
  }
  return true;
}

// The value of `key` in object `obj`: the exact key, else the first key equal
// to it ignoring ASCII case (as Go's decoders match struct fields). Null when
// absent.
const Json* Find(const Json& obj, std::string_view key) {
  auto it = obj.find(std::string(key));
  if (it != obj.end()) return &*it;
  for (auto i = obj.begin(); i != obj.end(); ++i) {
    if (EqualFoldAscii(i.key(), key)) return &i.value();
  }
  return nullptr;
}

// A short rendering of a wrong value for messages.
std::string Shown(const Json& v) {
  std::string s = v.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (s.size() > 40) s = s.substr(0, 37) + "...";
  return s;
}

std::optional<std::uint64_t> AsUnsigned(const Json& v) {
  if (const auto* u = v.get_ptr<const Json::number_unsigned_t*>()) return *u;
  if (const auto* i = v.get_ptr<const Json::number_integer_t*>()) {
    if (*i >= 0) return static_cast<std::uint64_t>(*i);
  }
  return std::nullopt;
}

// Paths here always have a prefix ("body"), so JoinPath's empty case never applies.
std::string Join(std::string_view path, std::string_view key) { return common::JoinPath(path, key); }

std::string Index(std::string_view path, std::size_t i) { return common::IndexPath(path, i); }

Status Missing(std::string_view path) {
  return Status::InvalidArgument(std::string(path) + " is missing");
}

Status Wrong(std::string_view path, std::string_view expected, const Json& got) {
  return Status::InvalidArgument(std::string(path) + ": expected " + std::string(expected) +
                                 ", got " + Shown(got));
}

// An optional field is absent when missing or null (as Go leaves it zero).
const Json* Optional(const Json& obj, std::string_view key) {
  const Json* v = Find(obj, key);
  return v == nullptr || v->is_null() ? nullptr : v;
}

Status ReadString(const Json& obj, std::string_view path, std::string_view key, bool required,
                  std::string* out) {
  const Json* v = required ? Find(obj, key) : Optional(obj, key);
  if (v == nullptr) return required ? Missing(Join(path, key)) : Status::Ok();
  const auto* s = v->get_ptr<const Json::string_t*>();
  if (s == nullptr) return Wrong(Join(path, key), "a string", *v);
  *out = *s;
  return Status::Ok();
}

Status ReadProtocol(const Json& obj, std::string_view path, Protocol* out) {
  const Json* v = Optional(obj, "protocol");
  if (v == nullptr) return Status::Ok();
  std::optional<Protocol> p;
  if (const auto* s = v->get_ptr<const Json::string_t*>()) {
    if (EqualFoldAscii(*s, "tcp")) p = Protocol::kTcp;
    if (EqualFoldAscii(*s, "udp")) p = Protocol::kUdp;
  } else if (auto n = AsUnsigned(*v)) {
    if (*n == 6) p = Protocol::kTcp;
    if (*n == 17) p = Protocol::kUdp;
  }
  if (!p) return Wrong(Join(path, "protocol"), "\"tcp\", \"udp\", 6 or 17", *v);
  *out = *p;
  return Status::Ok();
}

// One address and, optionally, a list of them (address/addresses,
// proxyaddress/proxyaddresses): the list when present and not empty, else
// the single one.
Status ReadAddresses(const Json& obj, std::string_view path, std::string_view one,
                     std::string_view many, std::vector<std::string>* out) {
  std::string first;
  bool has_first = Optional(obj, one) != nullptr;
  if (auto st = ReadString(obj, path, one, false, &first); !st.ok()) return st;
  std::vector<std::string> list;
  if (const Json* v = Optional(obj, many)) {
    if (!v->is_array()) return Wrong(Join(path, many), "a list of strings", *v);
    for (std::size_t i = 0; i < v->size(); ++i) {
      const auto* s = (*v)[i].get_ptr<const Json::string_t*>();
      if (s == nullptr) return Wrong(Index(Join(path, many), i), "a string", (*v)[i]);
      list.push_back(*s);
    }
  }
  if (list.empty() && has_first) list.push_back(std::move(first));
  *out = std::move(list);
  return Status::Ok();
}

// A list field: each element decoded by `read`. Missing or null: empty.
template <class T, class F>
Status ReadList(const Json& obj, std::string_view path, std::string_view key,
                std::vector<T>* out, F read) {
  const Json* v = Optional(obj, key);
  if (v == nullptr) return Status::Ok();
  std::string p = Join(path, key);
  if (!v->is_array()) return Wrong(p, "a list", *v);
  for (std::size_t i = 0; i < v->size(); ++i) {
    std::string ip = Index(p, i);
    const Json& e = (*v)[i];
    if (!e.is_object()) return Wrong(ip, "an object", e);
    T item;
    if (auto st = read(e, ip, &item); !st.ok()) return st;
    out->push_back(std::move(item));
  }
  return Status::Ok();
}

Status ReadEndpoint(const Json& o, std::string_view path, EndpointStatus* e) {
  if (auto st = ReadString(o, path, "name", false, &e->name); !st.ok()) return st;
  if (auto st = ReadProtocol(o, path, &e->protocol); !st.ok()) return st;
  return ReadAddresses(o, path, "address", "addresses", &e->addresses);
}

Status ReadTarget(const Json& o, std::string_view path, TargetStatus* t) {
  const std::pair<const char*, std::string*> strings[] = {
      {"name", &t->name},
      {"kind", &t->kind},
      {"state", &t->state},
      {"last_error", &t->last_error},
      {"kept_warm_by", &t->kept_warm_by}};
  for (const auto& [key, out] : strings) {
    if (auto st = ReadString(o, path, key, false, out); !st.ok()) return st;
  }
  if (const Json* v = Optional(o, "flows")) {
    auto n = AsUnsigned(*v);
    if (!n || *n > std::numeric_limits<std::uint32_t>::max()) {
      return Wrong(Join(path, "flows"), "an integer from 0 to 4294967295", *v);
    }
    t->flows = static_cast<std::uint32_t>(*n);
  }
  if (const Json* v = Optional(o, "since")) {
    const auto* s = v->get_ptr<const Json::string_t*>();
    auto when = s != nullptr ? ParseTime(*s) : std::nullopt;
    if (!when) return Wrong(Join(path, "since"), "an RFC 3339 time", *v);
    t->since = *when;
  }
  return ReadList(o, path, "endpoints", &t->endpoints, ReadEndpoint);
}

Status ReadFrontend(const Json& o, std::string_view path, FrontendStatus* f) {
  const std::pair<const char*, std::string*> strings[] = {
      {"name", &f->name},         {"kind", &f->kind},
      {"state", &f->state},       {"last_error", &f->last_error},
      {"listen", &f->listen},     {"target_name", &f->target_name},
      {"endpoint_name", &f->endpoint_name}, {"last_knock_from", &f->last_knock_from}};
  for (const auto& [key, out] : strings) {
    if (auto st = ReadString(o, path, key, false, out); !st.ok()) return st;
  }
  if (const Json* v = Optional(o, "knocks")) {
    auto n = AsUnsigned(*v);
    if (!n) return Wrong(Join(path, "knocks"), "an unsigned integer", *v);
    f->knocks = *n;
  }
  if (auto st = ReadProtocol(o, path, &f->protocol); !st.ok()) return st;
  return ReadAddresses(o, path, "proxyaddress", "proxyaddresses", &f->proxy_addresses);
}

Result<Body> ReadStatus(const Json& b) {
  StatusResponse s;
  if (const Json* v = Optional(b, "closed")) {
    if (!v->is_boolean()) return Wrong("body.closed", "true or false", *v);
    s.closed = v->get<bool>();
  }
  if (const Json* v = Optional(b, "dataplane")) {
    const auto* text = v->get_ptr<const Json::string_t*>();
    if (text != nullptr && *text == "connected") {
      s.dataplane_connected = true;
    } else if (text != nullptr && *text == "disconnected") {
      s.dataplane_connected = false;
    } else {
      return Wrong("body.dataplane", "\"connected\" or \"disconnected\"", *v);
    }
  }
  if (auto st = ReadList(b, "body", "targets", &s.targets, ReadTarget); !st.ok()) return st;
  if (auto st = ReadList(b, "body", "frontends", &s.frontends, ReadFrontend); !st.ok()) return st;
  return Body(std::move(s));
}

// The body of `method`, decoded; std::monostate for methods not decoded here.
// `body` is null when the packet has no "body".
Result<Body> DecodeBody(std::uint16_t method, const Json* body) {
  auto m = MethodFromWire(method);
  switch (m.value_or(Method::kEmpty)) {
    case Method::kErrorResponse:
    case Method::kStatusRequest:
    case Method::kStatusResponse:
    case Method::kWarmTargetRequest:
    case Method::kWarmTargetResponse:
    case Method::kDrainTargetRequest:
    case Method::kDrainTargetResponse:
      break;
    default:
      return Body{};
  }
  const std::string context = std::string("invalid ") + MethodName(*m);
  if (body == nullptr) return Missing("body").WithContext(context);
  if (body->is_null()) {
    return Status::InvalidArgument("body is null; expected an object").WithContext(context);
  }
  if (!body->is_object()) return Wrong("body", "an object", *body).WithContext(context);
  Result<Body> out = Body{};
  switch (*m) {
    case Method::kErrorResponse: {
      ErrorResponse e;
      Status st = ReadString(*body, "body", "msg", false, &e.msg);
      if (st.ok()) st = ReadString(*body, "body", "code", false, &e.code);
      out = st.ok() ? Result<Body>(std::move(e)) : Result<Body>(st);
      break;
    }
    case Method::kStatusRequest:
      out = Body(StatusRequest{});
      break;
    case Method::kStatusResponse:
      out = ReadStatus(*body);
      break;
    case Method::kWarmTargetRequest:
    case Method::kDrainTargetRequest: {
      std::string name;
      Status st = ReadString(*body, "body", "name", true, &name);
      if (!st.ok()) {
        out = st;
      } else if (*m == Method::kWarmTargetRequest) {
        out = Body(WarmTargetRequest{std::move(name)});
      } else {
        out = Body(DrainTargetRequest{std::move(name)});
      }
      break;
    }
    case Method::kWarmTargetResponse:
      out = Body(WarmTargetResponse{});
      break;
    case Method::kDrainTargetResponse:
      out = Body(DrainTargetResponse{});
      break;
    default:
      break;
  }
  if (!out.ok()) return out.status().WithContext(context);
  return out;
}

// nlohmann's message without its "[json.exception.parse_error.101] " tag.
std::string Detail(const Json::exception& e) {
  std::string_view what = e.what();
  auto end = what.find("] ");
  if (what.rfind("[json.exception.", 0) == 0 && end != std::string_view::npos) {
    what.remove_prefix(end + 2);
  }
  return std::string(what);
}

// One whole packet's bytes (as the scanner delimited them) into a Packet.
Result<Packet> ParsePacket(Codec codec, std::string_view bytes) {
  Json j;
  try {
    if (codec == Codec::kJson) {
      j = Json::parse(bytes.begin(), bytes.end());
    } else {
      j = Json::from_cbor(bytes.begin(), bytes.end(), /*strict=*/true,
                          /*allow_exceptions=*/true, Json::cbor_tag_handler_t::error);
    }
  } catch (const Json::exception& e) {
    return Status::ProtocolError(std::string(codec == Codec::kJson ? "invalid JSON: "
                                                                   : "invalid CBOR: ") +
                                 Detail(e));
  }
  if (!j.is_object()) {  // the scanners let only maps through
    return Status::ProtocolError("invalid packet: expected an object, got " + Shown(j));
  }
  Packet p;
  const Json* id = Find(j, "id");
  if (id == nullptr) return Status::ProtocolError("invalid packet: id is missing");
  auto idv = AsUnsigned(*id);
  if (!idv || *idv > std::numeric_limits<std::uint32_t>::max()) {
    return Status::ProtocolError("invalid packet: id: expected an integer from 0 to 4294967295, got " +
                                 Shown(*id));
  }
  p.id = static_cast<std::uint32_t>(*idv);
  const Json* method = Find(j, "method");
  if (method == nullptr) {
    p.body = Status::InvalidArgument("invalid packet: method is missing");
    return p;
  }
  auto mv = AsUnsigned(*method);
  if (!mv || *mv > std::numeric_limits<std::uint16_t>::max()) {
    p.body = Wrong("method", "an integer from 0 to 65535", *method).WithContext("invalid packet");
    return p;
  }
  p.method = static_cast<std::uint16_t>(*mv);
  p.body = DecodeBody(p.method, Find(j, "body"));
  return p;
}

std::string ShowByte(unsigned char c) {
  char buf[16];
  if (c > 0x20 && c < 0x7f) {
    std::snprintf(buf, sizeof buf, "'%c'", c);
  } else {
    std::snprintf(buf, sizeof buf, "byte 0x%02x", c);
  }
  return buf;
}

bool IsJsonSpace(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
// days_from_civil), so that no time zone or libc state is involved.
std::int64_t DaysFromCivil(std::int64_t y, unsigned m, unsigned d) {
  y -= m <= 2;
  const std::int64_t era = (y >= 0 ? y : y - 399) / 400;
  const unsigned yoe = static_cast<unsigned>(y - era * 400);
  const unsigned doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + d - 1;
  const unsigned doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + static_cast<std::int64_t>(doe) - 719468;
}

bool Digits(std::string_view s, std::size_t pos, std::size_t n, int* out) {
  if (pos + n > s.size()) return false;
  int v = 0;
  for (std::size_t i = pos; i < pos + n; ++i) {
    if (s[i] < '0' || s[i] > '9') return false;
    v = v * 10 + (s[i] - '0');
  }
  *out = v;
  return true;
}

}  // namespace

// --- Names ------------------------------------------------------------------------

std::optional<Codec> ParseCodec(std::string_view text) {
  auto is_space = [](char c) { return c == ' ' || (c >= '\t' && c <= '\r'); };
  while (!text.empty() && is_space(text.front())) text.remove_prefix(1);
  while (!text.empty() && is_space(text.back())) text.remove_suffix(1);
  if (text.empty() || EqualFoldAscii(text, "json")) return Codec::kJson;
  if (EqualFoldAscii(text, "cbor")) return Codec::kCbor;
  return std::nullopt;
}

const char* CodecName(Codec c) { return c == Codec::kCbor ? "cbor" : "json"; }

std::optional<Method> MethodFromWire(std::uint64_t v) {
  if (v <= 21 || v == 32768) return static_cast<Method>(v);
  return std::nullopt;
}

const char* MethodName(Method m) {
  switch (m) {
    case Method::kEmpty: return "Empty";
    case Method::kErrorResponse: return "ErrorResponse";
    case Method::kStatusRequest: return "StatusRequest";
    case Method::kStatusResponse: return "StatusResponse";
    case Method::kPluginInitRequest: return "PluginInitRequest";
    case Method::kPluginInitResponse: return "PluginInitResponse";
    case Method::kNewTargetRequest: return "NewTargetRequest";
    case Method::kNewTargetResponse: return "NewTargetResponse";
    case Method::kWarmTargetRequest: return "WarmTargetRequest";
    case Method::kWarmTargetResponse: return "WarmTargetResponse";
    case Method::kDrainTargetRequest: return "DrainTargetRequest";
    case Method::kDrainTargetResponse: return "DrainTargetResponse";
    case Method::kCloseTargetRequest: return "CloseTargetRequest";
    case Method::kCloseTargetResponse: return "CloseTargetResponse";
    case Method::kNewFrontendRequest: return "NewFrontendRequest";
    case Method::kNewFrontendResponse: return "NewFrontendResponse";
    case Method::kStartFrontendRequest: return "StartFrontendRequest";
    case Method::kStartFrontendResponse: return "StartFrontendResponse";
    case Method::kStopFrontendRequest: return "StopFrontendRequest";
    case Method::kStopFrontendResponse: return "StopFrontendResponse";
    case Method::kCloseFrontendRequest: return "CloseFrontendRequest";
    case Method::kCloseFrontendResponse: return "CloseFrontendResponse";
    case Method::kFrontendShouldWarmNotification: return "FrontendShouldWarmNotification";
  }
  return "?";
}

const char* ProtocolName(Protocol p) { return p == Protocol::kUdp ? "udp" : "tcp"; }

Method MethodOf(const Body& body) {
  return std::visit(Overloaded{
                        [](const std::monostate&) {
                          assert(false && "MethodOf: no body");
                          return Method::kEmpty;
                        },
                        [](const ErrorResponse&) { return Method::kErrorResponse; },
                        [](const StatusRequest&) { return Method::kStatusRequest; },
                        [](const StatusResponse&) { return Method::kStatusResponse; },
                        [](const WarmTargetRequest&) { return Method::kWarmTargetRequest; },
                        [](const WarmTargetResponse&) { return Method::kWarmTargetResponse; },
                        [](const DrainTargetRequest&) { return Method::kDrainTargetRequest; },
                        [](const DrainTargetResponse&) { return Method::kDrainTargetResponse; },
                    },
                    body);
}

const char* ErrorCodeName(common::Status::Code code) {
  using Code = common::Status::Code;
  switch (code) {
    case Code::kOk: return "";
    case Code::kInvalidArgument: return "invalid_argument";
    case Code::kNotFound: return "not_found";
    case Code::kAlreadyExists: return "already_exists";
    case Code::kPermissionDenied: return "permission_denied";
    case Code::kUnavailable: return "unavailable";
    case Code::kIoError: return "io_error";
    case Code::kProtocolError: return "protocol_error";
    case Code::kInternal: return "internal";
  }
  return "internal";
}

ErrorResponse ErrorFrom(const common::Status& status) {
  return ErrorResponse{status.message(), ErrorCodeName(status.code())};
}

// --- Time ---------------------------------------------------------------------------

std::string FormatTime(std::chrono::system_clock::time_point t) {
  using namespace std::chrono;
  const auto secs = floor<seconds>(t.time_since_epoch()).count();
  const sys_days day = floor<days>(sys_seconds(seconds(secs)));
  const year_month_day ymd(day);
  const auto tod = secs - duration_cast<seconds>(day.time_since_epoch()).count();
  char buf[48];
  std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02lld:%02lld:%02lldZ", static_cast<int>(ymd.year()),
                static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                static_cast<long long>(tod / 3600), static_cast<long long>(tod / 60 % 60),
                static_cast<long long>(tod % 60));
  return buf;
}

std::optional<std::chrono::system_clock::time_point> ParseTime(std::string_view s) {
  int y, mo, d, h, mi, sec;
  if (!Digits(s, 0, 4, &y) || s.size() < 19 || s[4] != '-' || !Digits(s, 5, 2, &mo) ||
      s[7] != '-' || !Digits(s, 8, 2, &d) || (s[10] != 'T' && s[10] != 't') ||
      !Digits(s, 11, 2, &h) || s[13] != ':' || !Digits(s, 14, 2, &mi) || s[16] != ':' ||
      !Digits(s, 17, 2, &sec)) {
    return std::nullopt;
  }
  std::size_t pos = 19;
  std::int64_t nanos = 0;
  if (pos < s.size() && s[pos] == '.') {
    std::size_t digits = 0;
    for (++pos; pos < s.size() && s[pos] >= '0' && s[pos] <= '9'; ++pos, ++digits) {
      if (digits < 9) nanos = nanos * 10 + (s[pos] - '0');
    }
    if (digits == 0) return std::nullopt;
    for (std::size_t i = digits; i < 9; ++i) nanos *= 10;
  }
  int offset_min = 0;
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) {
    ++pos;
  } else if (pos < s.size() && (s[pos] == '+' || s[pos] == '-')) {
    int oh, om;
    if (!Digits(s, pos + 1, 2, &oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
        !Digits(s, pos + 4, 2, &om) || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_min = (oh * 60 + om) * (s[pos] == '-' ? -1 : 1);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != s.size()) return std::nullopt;
  const std::chrono::year_month_day ymd{std::chrono::year(y), std::chrono::month(mo),
                                        std::chrono::day(d)};
  if (!ymd.ok() || h > 23 || mi > 59 || sec > 59) return std::nullopt;
  const std::int64_t secs = DaysFromCivil(y, mo, d) * 86400 + h * 3600 + mi * 60 + sec -
                            offset_min * 60;
  // system_clock counts nanoseconds in 64 bits: about 292 years either side
  // of 1970.
  if (secs < -9'000'000'000LL || secs > 9'000'000'000LL) return std::nullopt;
  return std::chrono::system_clock::time_point(
      std::chrono::duration_cast<std::chrono::system_clock::duration>(
          std::chrono::seconds(secs) + std::chrono::nanoseconds(nanos)));
}

// --- Encoding ---------------------------------------------------------------------

std::string EncodePacket(Codec codec, std::uint32_t id, const Body& body) {
  const bool cbor = codec == Codec::kCbor;
  OJson p = OJson::object();
  p["id"] = id;
  p["method"] = static_cast<std::uint16_t>(MethodOf(body));
  p["body"] = EncodeBody(body, cbor);
  if (!cbor) return Dump(p, -1) + "\n";
  std::vector<std::uint8_t> bytes = OJson::to_cbor(p);
  return std::string(bytes.begin(), bytes.end());
}

std::string StatusResponseText(const StatusResponse& status) {
  return Dump(EncodeStatus(status, /*cbor=*/false), 2) + "\n";
}

// --- StreamDecoder ------------------------------------------------------------------

StreamDecoder::StreamDecoder(Codec codec, std::size_t max_packet_bytes)
    : codec_(codec), max_(max_packet_bytes) {}

void StreamDecoder::Feed(std::string_view bytes) {
  if (!failed_.ok()) return;
  buf_.append(bytes);
}

bool StreamDecoder::Idle() const {
  if (started_) return false;
  if (codec_ == Codec::kCbor) return start_ == buf_.size();
  return std::all_of(buf_.begin() + static_cast<std::ptrdiff_t>(start_), buf_.end(), IsJsonSpace);
}

void StreamDecoder::Compact() {
  // Drop consumed bytes once they are most of the buffer: amortised O(1) per
  // byte, and what stays is the packet in progress.
  if (start_ == buf_.size()) {
    buf_.clear();
    start_ = 0;
  } else if (start_ > 4096 && start_ > buf_.size() / 2) {
    buf_.erase(0, start_);
    start_ = 0;
  }
}

common::Result<std::optional<Packet>> StreamDecoder::Next() {
  if (!failed_.ok()) return failed_;
  Result<bool> done = codec_ == Codec::kJson ? ScanJson() : ScanCbor();
  if (!done.ok()) {
    failed_ = done.status();
    buf_.clear();
    start_ = 0;
    return failed_;
  }
  if (!*done) {
    Compact();
    return std::optional<Packet>();
  }
  std::string_view bytes(buf_.data() + start_, scan_);
  Result<Packet> p = ParsePacket(codec_, bytes);
  start_ += scan_;
  scan_ = 0;
  started_ = complete_ = in_string_ = escape_ = false;
  depth_ = 0;
  stack_.clear();
  Compact();
  if (!p.ok()) {
    failed_ = p.status();
    buf_.clear();
    start_ = 0;
    return failed_;
  }
  return std::optional<Packet>(std::move(p).value());
}

namespace {
Status TooLarge(std::size_t max) {
  return Status::ProtocolError("packet is larger than " + std::to_string(max) + " bytes");
}
Status TooDeep() {
  return Status::ProtocolError("packet nests deeper than " + std::to_string(kMaxDepth) +
                               " levels");
}
}  // namespace

// Finds where the JSON object starting at start_ ends by tracking strings and
// bracket depth, resuming where the last call stopped; the parser checks the
// rest of the syntax once the object is whole.
common::Result<bool> StreamDecoder::ScanJson() {
  if (!started_) {
    while (start_ < buf_.size() && IsJsonSpace(buf_[start_])) ++start_;
    if (start_ == buf_.size()) return false;
    const char c = buf_[start_];
    if (c != '{') {
      return Status::ProtocolError("invalid JSON: a packet must be an object, got " +
                                   ShowByte(static_cast<unsigned char>(c)));
    }
    started_ = true;
  }
  while (start_ + scan_ < buf_.size()) {
    if (scan_ >= max_) return TooLarge(max_);
    const char c = buf_[start_ + scan_++];
    if (in_string_) {
      if (escape_) {
        escape_ = false;
      } else if (c == '\\') {
        escape_ = true;
      } else if (c == '"') {
        in_string_ = false;
      }
      continue;
    }
    switch (c) {
      case '"':
        in_string_ = true;
        break;
      case '{':
      case '[':
        if (++depth_ > kMaxDepth) return TooDeep();
        break;
      case '}':
      case ']':
        if (--depth_ == 0) return true;
        break;
      default:
        break;
    }
  }
  return false;
}

// Walks the CBOR data item starting at start_ header by header, keeping the
// open arrays, maps, tags and indefinite strings on stack_, resuming where
// the last call stopped. Only the framing is checked here; the parser checks
// the rest once the item is whole.
common::Result<bool> StreamDecoder::ScanCbor() {
  auto at = [this](std::size_t pos) { return static_cast<std::uint8_t>(buf_[start_ + pos]); };
  auto invalid = [](std::string what, std::size_t pos) {
    return Status::ProtocolError("invalid CBOR: " + what + " at byte " + std::to_string(pos));
  };
  if (!started_) {
    if (start_ == buf_.size()) return false;
    if ((at(0) >> 5) != 5) {
      return Status::ProtocolError("invalid CBOR: a packet must be a map, got initial " +
                                   ShowByte(at(0)));
    }
    started_ = true;
  }
  const std::size_t avail = buf_.size() - start_;
  while (!complete_) {
    if (scan_ >= max_) return TooLarge(max_);
    if (scan_ >= avail) return false;
    const std::uint8_t ib = at(scan_);
    const int major = ib >> 5;
    const int ai = ib & 31;
    if (ib == 0xff) {
      if (stack_.empty() || !stack_.back().indefinite) {
        return invalid("unexpected break code", scan_);
      }
      stack_.pop_back();
      ++scan_;
      ItemDone();
      continue;
    }
    std::size_t hdr = 1;
    std::uint64_t arg = static_cast<std::uint64_t>(ai);
    bool indefinite = false;
    if (ai >= 24 && ai <= 27) {
      hdr = 1 + (std::size_t{1} << (ai - 24));
      if (scan_ + hdr > max_) return TooLarge(max_);
      if (scan_ + hdr > avail) return false;
      arg = 0;
      for (std::size_t i = 1; i < hdr; ++i) arg = (arg << 8) | at(scan_ + i);
    } else if (ai == 31) {
      if (major == 0 || major == 1 || major == 6 || major == 7) {
        return invalid("indefinite length for major type " + std::to_string(major), scan_);
      }
      indefinite = true;
    } else if (ai >= 28) {
      return invalid("reserved additional information " + std::to_string(ai), scan_);
    }
    if (!stack_.empty() && stack_.back().string_major >= 0 &&
        (major != stack_.back().string_major || indefinite)) {
      return invalid("bad chunk in an indefinite-length string", scan_);
    }
    auto push = [this](Frame f) -> Status {
      if (stack_.size() >= kMaxDepth) return TooDeep();
      stack_.push_back(f);
      return Status::Ok();
    };
    switch (major) {
      case 2:
      case 3:
        if (indefinite) {
          if (auto st = push({0, true, major}); !st.ok()) return st;
          scan_ += hdr;
          break;
        }
        if (arg > max_ || scan_ + hdr + arg > max_) return TooLarge(max_);
        if (scan_ + hdr + arg > avail) return false;
        scan_ += hdr + static_cast<std::size_t>(arg);
        ItemDone();
        break;
      case 4:
      case 5:
        if (indefinite) {
          if (auto st = push({0, true, -1}); !st.ok()) return st;
          scan_ += hdr;
          break;
        }
        // Each item takes at least one byte: a count beyond the limit can
        // never fit.
        if (arg > max_) return TooLarge(max_);
        scan_ += hdr;
        if (arg == 0) {
          ItemDone();
        } else if (auto st = push({major == 5 ? arg * 2 : arg, false, -1}); !st.ok()) {
          return st;
        }
        break;
      case 6:  // a tag: one item follows (the parser refuses tags)
        if (auto st = push({1, false, -1}); !st.ok()) return st;
        scan_ += hdr;
        break;
      default:  // integers, simple values, floats
        scan_ += hdr;
        ItemDone();
        break;
    }
  }
  return true;
}

// One data item ended: count it against the containers it closes.
void StreamDecoder::ItemDone() {
  while (!stack_.empty()) {
    Frame& f = stack_.back();
    if (f.indefinite) return;
    if (--f.remaining > 0) return;
    stack_.pop_back();
  }
  complete_ = true;
}

}  // namespace ipc::ctl
