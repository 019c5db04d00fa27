// How one field of the config is read and checked: names, kinds, protocols,
// durations, addresses, users, paths, options. Used by the loader
// (loader.cc); library code, problems go to the ErrorSink.
#include "proxygw-engine/config/field_readers.h"

#include <regex>

#include "proxygw-engine/config/duration.h"

namespace config {

using common::AddrPort;

std::string Quoted(std::string_view s) { return "\"" + std::string(s.substr(0, 80)) + "\""; }

FieldLocations LocationsOf(const Fields& f) {
  FieldLocations at{f.location(), {}};
  for (const auto& [key, value] : f.entries()) {
    at.fields[key] = value.IsNull() ? f.KeyLocation(key) : LocationOf(value);
  }
  return at;
}

bool ValidName(const std::string& s) {
  static const std::regex re("[A-Za-z0-9][A-Za-z0-9._-]{0,62}");
  return std::regex_match(s, re);
}

std::optional<std::string> ReadName(ErrorSink& sink, const Fields& f, std::string_view key) {
  auto s = f.String(sink, key, /*required=*/true);
  if (!s) return std::nullopt;
  if (!ValidName(*s)) {
    sink.Add(LocationOf(f.Get(key)), f.PathOf(key),
             "invalid name " + Quoted(*s) + ": use " + kNameRule);
    return std::nullopt;
  }
  return s;
}

std::optional<std::pair<std::string, std::string>> ReadPair(ErrorSink& sink, const Fields& f,
                                                            std::string_view key,
                                                            std::string_view expected) {
  auto s = f.String(sink, key, /*required=*/true);
  if (!s) return std::nullopt;
  auto colon = s->find(':');
  if (colon == std::string::npos || s->find(':', colon + 1) != std::string::npos ||
      !ValidName(s->substr(0, colon)) || !ValidName(s->substr(colon + 1))) {
    sink.Add(LocationOf(f.Get(key)), f.PathOf(key),
             "invalid reference " + Quoted(*s) + ": expected " + std::string(expected));
    return std::nullopt;
  }
  return std::make_pair(s->substr(0, colon), s->substr(colon + 1));
}

std::optional<KindRef> ReadKind(ErrorSink& sink, const Fields& f) {
  auto p = ReadPair(sink, f, "kind", "\"namespace:kind\", e.g. \"static:cmd\"");
  if (!p) return std::nullopt;
  return KindRef{p->first, p->second};
}

std::optional<Protocol> ParseProtocol(ErrorSink& sink, const Fields& f) {
  auto s = f.String(sink, "protocol", /*required=*/false);
  if (!s) return std::nullopt;
  if (*s == "tcp") return Protocol::kTcp;
  if (*s == "udp") return Protocol::kUdp;
  sink.Add(LocationOf(f.Get("protocol")), f.PathOf("protocol"),
           "invalid protocol " + Quoted(*s) + ": expected \"tcp\" or \"udp\"");
  return std::nullopt;
}

std::optional<std::uint32_t> ReadSeconds(ErrorSink& sink, const Fields& f, std::string_view key,
                                         bool required, std::uint32_t dflt, std::uint32_t max) {
  if (!f.Has(key) && !required) return dflt;
  if (ScalarType t = ResolveScalar(f.Get(key)); t == ScalarType::kInt || t == ScalarType::kFloat) {
    sink.Add(LocationOf(f.Get(key)), f.PathOf(key),
             "expected a duration with a unit, e.g. \"" + f.Get(key).Scalar() + "s\", got the number " +
                 f.Get(key).Scalar());
    return std::nullopt;
  }
  auto s = f.String(sink, key, required);
  if (!s) return std::nullopt;
  Location at = LocationOf(f.Get(key));
  auto d = ParseGoDuration(*s);
  if (!d.ok()) {
    sink.Add(at, f.PathOf(key), d.status().message());
    return std::nullopt;
  }
  auto ns = d->count();
  if (ns < 1'000'000'000) {
    sink.Add(at, f.PathOf(key), "must be at least 1s, got " + Quoted(*s));
    return std::nullopt;
  }
  if (ns % 1'000'000'000 != 0) {
    sink.Add(at, f.PathOf(key),
             "must be a whole number of seconds, got " + Quoted(*s) +
                 " (timeouts are kept in seconds, and nothing is rounded)");
    return std::nullopt;
  }
  std::int64_t secs = ns / 1'000'000'000;
  if (secs > static_cast<std::int64_t>(max)) {
    sink.Add(at, f.PathOf(key),
             "must be at most " + FormatSeconds(max) + ", got " + Quoted(*s));
    return std::nullopt;
  }
  return static_cast<std::uint32_t>(secs);
}

std::optional<AddrPort> ParseAddress(ErrorSink& sink, const YAML::Node& node,
                                     const std::string& path, Location if_null, bool endpoint) {
  auto s = ReadString(sink, node, path, if_null);
  if (!s) return std::nullopt;
  Location at = LocationOf(node);
  auto a = AddrPort::Parse(*s);
  if (!a.ok()) {
    sink.Add(at, path, a.status().message());
    return std::nullopt;
  }
  if (a->port == 0) {
    sink.Add(at, path, "port 0 is not allowed in " + Quoted(*s));
    return std::nullopt;
  }
  if (a->address.IsV4Mapped()) {
    sink.Add(at, path,
             "IPv4-mapped IPv6 address " + Quoted(*s) + " is not supported; write the IPv4 form");
    return std::nullopt;
  }
  if (a->address.IsMulticast()) {
    sink.Add(at, path, "multicast address " + Quoted(*s) + " cannot be forwarded");
    return std::nullopt;
  }
  if (endpoint && a->address.IsUnspecified()) {
    sink.Add(at, path,
             "endpoint address " + Quoted(*s) + " is unspecified; give the backend's real address");
    return std::nullopt;
  }
  return *a;
}

namespace {

bool ValidUser(const std::string& s) {
  static const std::regex re("[a-z_][a-z0-9_-]{0,31}");
  return std::regex_match(s, re);
}

}  // namespace

void ReadUser(ErrorSink& sink, const Fields& f, std::string* out) {
  auto s = f.String(sink, "user", /*required=*/false);
  if (!s) return;
  Location at = LocationOf(f.Get("user"));
  if (!ValidUser(*s)) {
    sink.Add(at, f.PathOf("user"),
             "invalid user name " + Quoted(*s) +
                 ": expected a system user name (lowercase letters, digits, '_', '-')");
  } else if (*s == "root") {
    sink.Add(at, f.PathOf("user"), "must not be root: each process runs as its own system user");
  } else {
    *out = *s;
  }
}

void ReadPath(ErrorSink& sink, const Fields& f, std::string_view key, bool socket,
              std::string* out) {
  auto s = f.String(sink, key, /*required=*/false);
  if (!s) return;
  Location at = LocationOf(f.Get(key));
  if (s->front() != '/') {
    sink.Add(at, f.PathOf(key), "must be an absolute path, got " + Quoted(*s));
  } else if (socket && s->size() > 107) {
    sink.Add(at, f.PathOf(key),
             "socket path is " + std::to_string(s->size()) + " bytes; the limit is 107");
  } else if (s->find('\n') != std::string::npos) {
    sink.Add(at, f.PathOf(key), "path must not contain a newline");
  } else {
    *out = *s;
  }
}

Options ReadOptions(ErrorSink& sink, const Fields& f, std::string_view key) {
  Options o;
  o.path = f.PathOf(key);
  YAML::Node v = f.Get(key);
  o.location = f.KeyLocation(key);
  if (!v.IsDefined() || v.IsNull()) return o;
  if (!v.IsMap()) {
    sink.Add(LocationOf(v), o.path, "expected a mapping, got " + DescribeNode(v));
    return o;
  }
  o.node = v;
  o.location = LocationOf(v);
  return o;
}

}  // namespace config
