#include "plugins/metrics/metrics_config.h"

namespace metrics_plugin {
namespace {

std::string Quoted(const std::string& s) {
  return "\"" + (s.size() > 64 ? s.substr(0, 61) + "..." : s) + "\"";
}

// Would connections to `a` and `b` (same port) reach the same socket, or
// would a frontend's forwarding on `b` take those meant for `a`? Wildcards
// overlap every address of their family; "[::]" every address.
bool Overlap(const common::AddrPort& a, const common::AddrPort& b) {
  if (a.port != b.port) return false;
  if (a.address == b.address) return true;
  auto covers = [](const common::IpAddress& wild, const common::IpAddress& other) {
    return wild.IsUnspecified() && (wild.is_v6() || wild.family() == other.family());
  };
  return covers(a.address, b.address) || covers(b.address, a.address);
}

void ReadListen(const config::Fields& f, const config::Config& cfg, config::ErrorSink& errors,
                MetricsConfig* c) {
  c->listen_path = f.PathOf("listen");
  c->listen_location = f.location();
  auto s = f.String(errors, "listen", /*required=*/true);
  if (!s) return;
  const config::Location at = config::LocationOf(f.Get("listen"));
  c->listen_location = at;
  auto a = common::AddrPort::Parse(*s);
  if (!a.ok()) return errors.Add(at, c->listen_path, a.status().message());
  if (a->port == 0) return errors.Add(at, c->listen_path, "port 0 is not allowed in " + Quoted(*s));
  if (a->address.IsV4Mapped()) {
    return errors.Add(
        at, c->listen_path,
        "IPv4-mapped IPv6 address " + Quoted(*s) + " is not supported; write the IPv4 form");
  }
  if (a->address.IsMulticast()) {
    return errors.Add(at, c->listen_path,
                      "multicast address " + Quoted(*s) + " cannot be listened on");
  }
  for (const auto& fe : cfg.frontends) {
    if (fe.protocol != config::Protocol::kTcp || !Overlap(*a, fe.listen)) continue;
    return errors.Add(at, c->listen_path,
                      Quoted(*s) + " overlaps " + fe.path + ".listen (\"" + fe.listen.ToString() +
                          "\", tcp); give the metrics another port");
  }
  c->listen = *a;
}

}  // namespace

std::optional<MetricsConfig> ReadMetricsConfig(const config::Options& options,
                                               const config::Config& cfg,
                                               config::ErrorSink& errors) {
  const std::size_t before = errors.count();
  auto f = config::Fields::Read(errors, options.node, options.path, options.location, {"listen"},
                                /*null_is_empty=*/true);
  if (!f) return std::nullopt;
  MetricsConfig c;
  ReadListen(*f, cfg, errors, &c);
  if (errors.count() != before) return std::nullopt;
  return c;
}

}  // namespace metrics_plugin
