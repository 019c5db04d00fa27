// What netd accepts, beyond the wire shape the decoder checks: one function
// per rule, each returning a Status whose message names the mapping and what
// is wrong. Pure functions; runs in proxygw-netd (the engine checks the same
// rules before sending, in its config loader).
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <tuple>
#include <vector>

#include "common/ipc/netd_protocol.h"
#include "common/status.h"

namespace netd {

// Longest flow timeout netd installs: the kernel turns a ct timeout policy's
// seconds into jiffies without clamping, and past 2,147,483 s (24.8 days) at
// HZ=1000 the value wraps and the flow expires at once. 24 days stays clear.
inline constexpr std::uint32_t kMaxFlowTimeoutS = 24 * 24 * 3600;

// One mapping on its own: ports 1-65535, families equal, a real destination
// (not unspecified, multicast or IPv4-mapped), a listen address that is not
// multicast or IPv4-mapped, listen != destination, flow timeout 1s-24 days.
common::Status ValidateMapping(const ipc::netd::Mapping& m);

// A key on its own (Flush, Change's disable list): port 1-65535, not
// multicast or IPv4-mapped.
common::Status ValidateKey(const ipc::netd::MappingKey& k);

// One hold (Hold, SyncAdd): a valid key; hold_s 1-kMaxHoldSeconds (or 0,
// clearing, when `clear_ok`); each allowed prefix of the key's family, with a
// length that fits it and no host bits set, none overlapping another.
common::Status ValidateHold(const ipc::netd::Hold& h, bool clear_ok);

// A set of `n` mappings within `limit`: "N mappings; the limit is L".
common::Status ValidateCount(std::size_t n, std::uint32_t limit);

// A whole set of mappings as it would be installed: unique keys, and no
// wildcard and specific listen address of the same protocol, family and port
// (the kernel would match both). `limit`: most mappings allowed.
common::Status ValidateSet(const std::map<ipc::netd::MappingKey, ipc::netd::Mapping>& set,
                           std::uint32_t limit);

// The overlap rule of ValidateSet, kept per (protocol, family, port) for an
// installed set, so that a change to it is checked in time that depends on
// the change, not on the size of the set.
class PortIndex {
 public:
  void Add(const ipc::netd::MappingKey& k);
  void Remove(const ipc::netd::MappingKey& k);
  void Clear() { uses_.clear(); }

  // Whether the indexed set, with the keys of `entering` added and those of
  // `leaving` removed, would have a wildcard and a specific listen address
  // of the same protocol, family and port. `entering` are keys not in the
  // set, `leaving` keys in it (the caller knows which).
  bool Overlaps(const std::vector<ipc::netd::MappingKey>& entering,
                const std::vector<ipc::netd::MappingKey>& leaving) const;

 private:
  using Port = std::tuple<int, int, int>;  // protocol, family, port
  struct Use {
    std::uint32_t wildcard = 0, specific = 0;
  };
  static Port PortOf(const ipc::netd::MappingKey& k);
  static std::uint32_t& CountOf(Use& u, const ipc::netd::MappingKey& k) {
    return k.wildcard() ? u.wildcard : u.specific;
  }
  std::map<Port, Use> uses_;
};

}  // namespace netd
