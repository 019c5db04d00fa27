// The layout of netd's table (see nft_table.h for what it holds): the names
// of its maps, sets and chains, the bytes of the elements a mapping or a hold
// becomes (and a mapping read back from them), and the nftables messages
// that create the layout and add or delete elements. Builders only: nothing
// here talks to the kernel; NftTable sends the batches. Runs inside
// proxygw-netd only.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proxygw-netd/nft_netlink.h"
#include "proxygw-netd/nft_table.h"

namespace netd::nft {

// Written as the table's comment; a table with another comment is not of
// this layout, or has the rules of another mark mask, and is rebuilt.
std::string LayoutTag(std::uint32_t mark_mask);

// The four kinds of mapping, each with its own maps and rules.
enum Kind { kSpecific4 = 0, kSpecific6 = 1, kWildcard4 = 2, kWildcard6 = 3 };
constexpr int kKinds = 4;
constexpr Kind kAllKinds[kKinds] = {kSpecific4, kSpecific6, kWildcard4, kWildcard6};
Kind KindOf(const MappingKey& k);

// The maps of a mapping, and the hold sets.
enum class MapRole { kDnat, kMark, kTimeout, kHold };
std::string MapName(MapRole role, Kind k);

// A table, or a set of `table`, with its name set.
common::NftnlTable NewTable(const std::string& table);
common::NftnlSet NewSet(const std::string& table, const std::string& name);

// "timeout_tcp_ipv4_60s": one ct timeout object per (protocol, family, seconds).
std::string TimeoutName(const Mapping& m);

// A table message; `flags` as the table's (owner, persist), and the
// comment unless it is empty.
void AddTable(Batch& b, const std::string& table, std::uint32_t flags, const std::string& comment);
void DelTable(Batch& b, const std::string& table);
// Every map, set, chain and rule of the layout, into an empty table.
void AddLayout(Batch& b, const std::string& table, std::uint32_t mark_mask);

void AddTimeoutObject(Batch& b, const std::string& table, const Mapping& m);
void DelTimeoutObject(Batch& b, const std::string& table, const std::string& name);

// Adds (or deletes) the three elements of each mapping, grouped per map.
void Elements(Batch& b, const std::string& table, const std::vector<InstalledMapping>& items,
              bool add);
// Adds (or deletes) the elements of each hold: one per allowed prefix, or
// one for any source. With `flush`, first empties every hold set.
void HoldElements(Batch& b, const std::string& table, const std::vector<Hold>& items, bool add,
                  bool flush = false);

// The mapping whose elements in the maps of kind `k` are `key` (its element
// key), `dnat`, `mark` and the timeout object `obj`, or nullopt if they are
// not ones Elements() writes (with a mark inside `mark_mask`).
std::optional<InstalledMapping> ParseElements(Kind k, const std::vector<std::uint8_t>& key,
                                              const std::vector<std::uint8_t>& dnat,
                                              const std::vector<std::uint8_t>& mark,
                                              const std::string& obj, std::uint32_t mark_mask);

}  // namespace netd::nft
