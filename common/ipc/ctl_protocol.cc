#include "common/ipc/ctl_protocol.h"

#include <cassert>
#include <cstdio>
#include <limits>
#include <utility>

#include "common/ipc/ctl_json.h"
#include "common/ipc/ctl_reload_codec.h"
#include "common/ipc/ctl_status_codec.h"

namespace ipc::ctl {
namespace {

using namespace detail;
using common::Result;
using common::Status;

// --- Encoding -------------------------------------------------------------------

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
          [](const ReloadResponse& r) { return EncodeReload(r); },
          [](const WarmTargetRequest& r) { return NameBody(r.name); },
          [](const DrainTargetRequest& r) { return NameBody(r.name); },
          [](const RoleRequest& r) {
            OJson o = OJson::object();
            o["role"] = common::HaRoleName(r.role);
            return o;
          },
          [](const RoleResponse& r) {
            OJson o = OJson::object();
            o["role"] = common::HaRoleName(r.role);
            o["previous"] = common::HaRoleName(r.previous);
            return o;
          },
          [](const auto&) { return OJson::object(); },  // the empty bodies
      },
      body);
}

// Compact JSON; bad UTF-8 replaced rather than thrown about.
std::string Dump(const OJson& j, int indent) {
  return j.dump(indent, ' ', /*ensure_ascii=*/false, OJson::error_handler_t::replace);
}

// --- Decoding --------------------------------------------------------------------

// `key` of `body`, a role name; required.
Status ReadRole(const Json& body, std::string_view key, common::HaRole* out) {
  std::string text;
  if (Status st = ReadString(body, "body", key, true, &text); !st.ok()) return st;
  auto r = common::ParseHaRole(text);
  if (!r) return Wrong(Join("body", key), common::kHaRoleNames, *Find(body, key));
  *out = *r;
  return Status::Ok();
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
    case Method::kReloadRequest:
    case Method::kReloadResponse:
    case Method::kRoleRequest:
    case Method::kRoleResponse:
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
    case Method::kReloadRequest:
      out = Body(ReloadRequest{});
      break;
    case Method::kReloadResponse:
      out = ReadReload(*body);
      break;
    case Method::kRoleRequest: {
      RoleRequest r;
      Status st = ReadRole(*body, "role", &r.role);
      out = st.ok() ? Result<Body>(r) : Result<Body>(st);
      break;
    }
    case Method::kRoleResponse: {
      RoleResponse r;
      Status st = ReadRole(*body, "role", &r.role);
      if (st.ok()) st = ReadRole(*body, "previous", &r.previous);
      out = st.ok() ? Result<Body>(r) : Result<Body>(st);
      break;
    }
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
  if (v <= 21 || (v >= 256 && v <= 259) || v == 32768) return static_cast<Method>(v);
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
    case Method::kReloadRequest: return "ReloadRequest";
    case Method::kReloadResponse: return "ReloadResponse";
    case Method::kRoleRequest: return "RoleRequest";
    case Method::kRoleResponse: return "RoleResponse";
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
                        [](const ReloadRequest&) { return Method::kReloadRequest; },
                        [](const ReloadResponse&) { return Method::kReloadResponse; },
                        [](const RoleRequest&) { return Method::kRoleRequest; },
                        [](const RoleResponse&) { return Method::kRoleResponse; },
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

// --- Decoding packets -------------------------------------------------------------

Result<Packet> DecodePacket(Codec codec, std::string_view bytes) {
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

}  // namespace ipc::ctl
