#include "common/ipc/ctl_status_codec.h"

namespace ipc::ctl::detail {
namespace {

using common::Result;
using common::Status;

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
  if (!t.follow.empty()) o["follow"] = t.follow;
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

}  // namespace

OJson EncodeStatus(const StatusResponse& s, bool cbor) {
  OJson o = OJson::object();
  o["closed"] = s.closed;
  if (s.dataplane_connected) o["dataplane"] = *s.dataplane_connected ? "connected" : "disconnected";
  if (!s.role.empty()) o["role"] = s.role;
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

namespace {

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
  if (auto st = ReadStrings(obj, path, many, &list); !st.ok()) return st;
  if (list.empty() && has_first) list.push_back(std::move(first));
  *out = std::move(list);
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
      {"kept_warm_by", &t->kept_warm_by},
      {"follow", &t->follow}};
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
  const std::pair<const char*, std::string*> strings[] = {{"name", &f->name},
                                                          {"kind", &f->kind},
                                                          {"state", &f->state},
                                                          {"last_error", &f->last_error},
                                                          {"listen", &f->listen},
                                                          {"target_name", &f->target_name},
                                                          {"endpoint_name", &f->endpoint_name},
                                                          {"last_knock_from", &f->last_knock_from}};
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

}  // namespace

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
  if (auto st = ReadString(b, "body", "role", false, &s.role); !st.ok()) return st;
  if (auto st = ReadList(b, "body", "targets", &s.targets, ReadTarget); !st.ok()) return st;
  if (auto st = ReadList(b, "body", "frontends", &s.frontends, ReadFrontend); !st.ok()) return st;
  return Body(std::move(s));
}

}  // namespace ipc::ctl::detail
