#include "proxygw-engine/config/semantics.h"

#include <map>
#include <tuple>

namespace config {
namespace {

using common::AddrPort;
using common::Family;

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

std::string AtLine(Location l) { return " (line " + std::to_string(l.line) + ")"; }

std::string AddressList(const Endpoint& e) {
  std::string out;
  for (const auto& a : e.addresses) {
    if (!out.empty()) out += ", ";
    out += Quoted(a.ToString());
  }
  return out;
}

void CheckTargets(Config& cfg, ErrorSink& sink) {
  std::map<std::string, const Target*> names;
  // (protocol, address) -> "target:endpoint", so that two endpoints never share
  // a destination: flows are counted per destination.
  std::map<std::pair<Protocol, AddrPort>, std::pair<std::string, Location>> destinations;
  for (const Target& t : cfg.targets) {
    auto [it, fresh] = names.emplace(t.name, &t);
    if (!fresh) {
      sink.Add(t.at.At("name"), t.path + ".name",
               "duplicate target name " + Quoted(t.name) + ", first defined" +
                   AtLine(it->second->location));
    }
    std::map<std::string, Location> eps;
    for (const Endpoint& e : t.endpoints) {
      auto [eit, efresh] = eps.emplace(e.name, e.location);
      if (!efresh) {
        sink.Add(e.at.At("name"), e.path + ".name",
                 "duplicate endpoint name " + Quoted(e.name) + " in target " + Quoted(t.name) +
                     ", first defined" + AtLine(eit->second));
      }
      for (const AddrPort& a : e.addresses) {
        std::string ref = t.name + ":" + e.name;
        auto [dit, dfresh] = destinations.emplace(std::make_pair(e.protocol, a),
                                                  std::make_pair(ref, e.location));
        if (!dfresh) {
          sink.Add(e.at.fields.count("address") ? e.at.At("address") : e.at.At("addresses"), e.path,
                   std::string(ProtocolName(e.protocol)) + " address " + Quoted(a.ToString()) +
                       " is already the address of endpoint " + dit->second.first +
                       AtLine(dit->second.second) + "; endpoints cannot share an address");
        }
      }
    }
  }
}

// The listen claims of a frontend: (family, wildcard, address, port).
struct Claim {
  Family family;
  bool wildcard;
  common::IpAddress address;
  std::uint16_t port;
};

std::vector<Claim> ClaimsOf(const Frontend& f) {
  const auto& a = f.listen.address;
  if (f.DualStack()) {
    return {{Family::kIpv4, true, common::IpAddress::Unspecified(Family::kIpv4), f.listen.port},
            {Family::kIpv6, true, a, f.listen.port}};
  }
  return {{a.family(), a.IsUnspecified(), a, f.listen.port}};
}

bool Overlap(const Claim& x, const Claim& y) {
  if (x.family != y.family || x.port != y.port) return false;
  return x.wildcard || y.wildcard || x.address == y.address;
}

// Checks that the endpoint can serve every client family of the listen address.
void CheckFamilies(const Frontend& f, const Endpoint& e, ErrorSink& sink) {
  std::string ref = f.target + ":" + f.endpoint;
  std::string listen = Quoted(f.listen.ToString());
  // [::] to an IPv6-only endpoint is an IPv6 wildcard (ipv6_only), to one
  // with both families dual-stack; to an IPv4-only one it cannot work.
  if (f.DualStack()) {
    if (e.AddressFor(Family::kIpv6) == nullptr) {
      sink.Add(f.at.At("listen"), f.path + ".listen",
               listen + " serves IPv6 clients (and IPv4 ones when the endpoint has both "
                        "families), but endpoint " + ref + " has no IPv6 address (it has " +
                   AddressList(e) + "); listen on \"0.0.0.0:" + std::to_string(f.listen.port) +
                   "\" instead, or add an IPv6 address to the endpoint's \"addresses\"");
    }
    return;
  }
  Family fam = f.listen.family();
  if (e.AddressFor(fam) == nullptr) {
    sink.Add(f.at.At("listen"), f.path + ".listen",
             std::string(common::FamilyName(fam)) + " listen address " + listen + " needs an " +
                 std::string(common::FamilyName(fam)) + " address on endpoint " + ref +
                 " (it has " + AddressList(e) + ")");
  }
}

void CheckFrontends(Config& cfg, ErrorSink& sink, const std::set<std::string>& broken_targets) {
  std::map<std::string, Location> names;
  struct Seen {
    const Frontend* f;
    std::vector<Claim> claims;
  };
  std::vector<Seen> seen;
  for (Frontend& f : cfg.frontends) {
    auto [it, fresh] = names.emplace(f.name, f.location);
    if (!fresh) {
      sink.Add(
          f.at.At("name"), f.path + ".name",
          "duplicate frontend name " + Quoted(f.name) + ", first defined" + AtLine(it->second));
    }
    const Target* t = cfg.FindTarget(f.target);
    const Endpoint* e = t != nullptr ? t->FindEndpoint(f.endpoint) : nullptr;
    std::string ref = f.target + ":" + f.endpoint;
    if (t == nullptr) {
      if (broken_targets.count(f.target) == 0) {
        sink.Add(f.at.At("target"), f.path + ".target", "no target named " + Quoted(f.target));
      }
    } else if (e == nullptr) {
      std::string have;
      for (const auto& x : t->endpoints) have += (have.empty() ? "" : ", ") + Quoted(x.name);
      sink.Add(f.at.At("target"), f.path + ".target",
               "target " + Quoted(f.target) + " has no endpoint named " + Quoted(f.endpoint) +
                   " (it has " + have + ")");
    }
    if (e != nullptr) {
      // [::] to an endpoint with an IPv6 address only is an IPv6 wildcard
      // (the original's meaning, so its "0.0.0.0:P -> IPv4, [::]:P -> IPv6"
      // pair of frontends loads); with both families it is dual-stack.
      f.ipv6_only = f.listen.address.is_v6() && f.listen.address.IsUnspecified() &&
                    e->AddressFor(Family::kIpv6) != nullptr &&
                    e->AddressFor(Family::kIpv4) == nullptr;
      if (!f.protocol_explicit) {
        f.protocol = e->protocol;
      } else if (f.protocol != e->protocol) {
        sink.Add(f.at.At("protocol"), f.path + ".protocol",
                 Quoted(std::string(ProtocolName(f.protocol))) + " does not match endpoint " + ref +
                     ", which is " + Quoted(std::string(ProtocolName(e->protocol))) +
                     " (the protocol may be left out: it is taken from the endpoint)");
      }
      CheckFamilies(f, *e, sink);
    }
    // A listen address that is also an endpoint's would forward a backend's
    // own traffic back to a backend.
    for (const Target& ot : cfg.targets) {
      for (const Endpoint& oe : ot.endpoints) {
        if (oe.protocol != f.protocol) continue;
        for (const AddrPort& a : oe.addresses) {
          if (a == f.listen) {
            sink.Add(f.at.At("listen"), f.path + ".listen",
                     Quoted(f.listen.ToString()) + " is also the address of endpoint " + ot.name +
                         ":" + oe.name + AtLine(oe.location) +
                         "; a frontend cannot listen on a backend's address");
          }
        }
      }
    }
    Seen mine{&f, ClaimsOf(f)};
    for (const Seen& other : seen) {
      if (other.f->protocol != f.protocol) continue;
      bool clash = false;
      for (const Claim& a : mine.claims) {
        for (const Claim& b : other.claims) clash = clash || Overlap(a, b);
      }
      if (!clash) continue;
      std::string head = std::string(ProtocolName(f.protocol)) + " listen address " +
                         Quoted(f.listen.ToString());
      std::string them = "frontend " + Quoted(other.f->name) + AtLine(other.f->location);
      if (other.f->listen == f.listen) {
        sink.Add(f.at.At("listen"), f.path + ".listen", head + " is already used by " + them);
      } else {
        sink.Add(f.at.At("listen"), f.path + ".listen",
                 head + " overlaps " + Quoted(other.f->listen.ToString()) + " of " + them +
                     ": a wildcard address takes its port on every local address of its "
                     "family, and [::] on IPv4 addresses too");
      }
      break;  // one report per frontend is enough to fix it
    }
    seen.push_back(std::move(mine));
  }
}

}  // namespace

void CheckSemantics(Config& cfg, ErrorSink& sink, const std::set<std::string>& broken_targets) {
  CheckTargets(cfg, sink);
  CheckFrontends(cfg, sink, broken_targets);
}

}  // namespace config
