#include "proxygw-netd/validate.h"

#include <algorithm>
#include <tuple>

namespace netd {

using common::Status;
using ipc::netd::Mapping;
using ipc::netd::MappingKey;

namespace {

Status Bad(const std::string& what, const std::string& why) {
  return Status::InvalidArgument(what + ": " + why);
}

// Bit `i` of `a`, counted from the most significant.
bool Bit(const common::IpAddress& a, std::size_t i) { return a.data()[i / 8] & (0x80 >> (i % 8)); }

// What is wrong with a listen key, or null.
const char* KeyProblem(const MappingKey& k) {
  if (k.port == 0) return "listen port 0";
  if (k.listen.IsMulticast()) return "multicast listen address";
  if (k.listen.IsV4Mapped()) return "IPv4-mapped IPv6 listen address";
  return nullptr;
}

}  // namespace

Status ValidateKey(const MappingKey& k) {
  if (const char* why = KeyProblem(k)) return Bad(k.ToString(), why);
  return Status::Ok();
}

Status ValidateMapping(const Mapping& m) {
  // The mapping as text only for a refusal: formatting every mapping of a
  // sync was 8% of netd's time in it (perf, 10,000 mappings).
  auto bad = [&m](const std::string& why) { return Bad(m.ToString(), why); };
  if (const char* why = KeyProblem(m.key)) return bad(why);
  const auto& d = m.destination;
  if (d.family() != m.key.listen.family()) {
    return bad("listen and destination addresses of different families");
  }
  if (d.port == 0) return bad("destination port 0");
  if (d.address.IsUnspecified()) return bad("unspecified destination address");
  if (d.address.IsMulticast()) return bad("multicast destination address");
  if (d.address.IsV4Mapped()) return bad("IPv4-mapped IPv6 destination address");
  if (d.address == m.key.listen && d.port == m.key.port) {
    return bad("destination equals the listen address");
  }
  if (m.flow_timeout_s == 0 || m.flow_timeout_s > kMaxFlowTimeoutS) {
    return bad("flow timeout must be 1-" + std::to_string(kMaxFlowTimeoutS) + " seconds");
  }
  return Status::Ok();
}

Status ValidateHold(const ipc::netd::Hold& h, bool clear_ok) {
  std::string what = "hold of " + h.key.ToString();
  if (const char* why = KeyProblem(h.key)) return Bad(what, why);
  if ((h.hold_s == 0 && !clear_ok) || h.hold_s > ipc::netd::kMaxHoldSeconds) {
    return Bad(what, "hold_s must be 1-" + std::to_string(ipc::netd::kMaxHoldSeconds) + " seconds");
  }
  for (std::size_t i = 0; i < h.allow.size(); ++i) {
    const auto& p = h.allow[i];
    if (p.address.family() != h.key.listen.family()) {
      return Bad(what, "allow " + p.ToString() + ": not the family of the listen address");
    }
    if (p.length > p.address.size() * 8) return Bad(what, "allow " + p.ToString() + ": length");
    for (std::size_t bit = p.length; bit < p.address.size() * 8; ++bit) {
      if (Bit(p.address, bit)) return Bad(what, "allow " + p.ToString() + ": host bits set");
    }
    for (std::size_t j = 0; j < i; ++j) {
      // Two prefixes overlap when the shorter one contains the other's start.
      const auto& q = h.allow[j];
      std::size_t n = std::min(p.length, q.length), bit = 0;
      while (bit < n && Bit(p.address, bit) == Bit(q.address, bit)) ++bit;
      if (bit == n) return Bad(what, "allow " + p.ToString() + " overlaps " + q.ToString());
    }
  }
  return Status::Ok();
}

Status ValidateCount(std::size_t n, std::uint32_t limit) {
  if (n <= limit) return Status::Ok();
  return Status::InvalidArgument(std::to_string(n) + " mappings; the limit is " +
                                 std::to_string(limit));
}

Status ValidateSet(const std::map<MappingKey, Mapping>& set, std::uint32_t limit) {
  if (Status st = ValidateCount(set.size(), limit); !st.ok()) return st;
  PortIndex wild;  // every wildcard key
  for (const auto& [k, m] : set) {
    if (k.wildcard()) wild.Add(k);
  }
  for (const auto& [k, m] : set) {
    if (!k.wildcard() && wild.Overlaps({k}, {})) {
      return Status::InvalidArgument(k.ToString() + ": overlaps the wildcard mapping of port " +
                                     std::to_string(k.port));
    }
  }
  return Status::Ok();
}

PortIndex::Port PortIndex::PortOf(const MappingKey& k) {
  return {static_cast<int>(k.proto), static_cast<int>(k.listen.family()), k.port};
}

void PortIndex::Add(const MappingKey& k) { ++CountOf(uses_[PortOf(k)], k); }

void PortIndex::Remove(const MappingKey& k) {
  auto it = uses_.find(PortOf(k));
  if (it == uses_.end()) return;
  std::uint32_t& n = CountOf(it->second, k);
  if (n > 0) --n;
  if (it->second.wildcard == 0 && it->second.specific == 0) uses_.erase(it);
}

bool PortIndex::Overlaps(const std::vector<MappingKey>& entering,
                         const std::vector<MappingKey>& leaving) const {
  std::map<Port, Use> touched;
  auto at = [&](const MappingKey& k) -> Use& {
    Port p = PortOf(k);
    auto [it, fresh] = touched.try_emplace(p);
    if (fresh) {
      auto cur = uses_.find(p);
      if (cur != uses_.end()) it->second = cur->second;
    }
    return it->second;
  };
  for (const auto& k : leaving) {
    std::uint32_t& n = CountOf(at(k), k);
    if (n > 0) --n;
  }
  for (const auto& k : entering) ++CountOf(at(k), k);
  for (const auto& [p, u] : touched) {
    if (u.wildcard > 0 && u.specific > 0) return true;
  }
  return false;
}

}  // namespace netd
