// NftTable: the one nftables table netd owns, `inet proxygw`, and the DNAT
// mappings installed in it. Runs inside proxygw-netd only.
//
// Layout (docs/privileged-surface.md shows it as `nft list table` prints it):
//   - per family, a map for specific listen addresses keyed by
//     `l4proto . daddr . dport` and one for wildcard listen addresses keyed by
//     `l4proto . dport`, each in three flavours: the DNAT target
//     (dnat4/dnat6/wdnat4/wdnat6), the ct mark (mark4...), and the ct timeout
//     object (tmo4...). Lookups are hash lookups: their cost does not grow with
//     the number of mappings, and a change is a few element adds or deletes.
//   - per kind, a hold set (hold4...) of `l4proto . [daddr .] dport . saddr`
//     ranges: the cold keys that have a hold, with the sources it allows
//     (ipc::netd::Hold). Chains `hold_pre`/`hold_out` (filter, priority -190:
//     after conntrack, before the mark chains) queue a new flow's packets that
//     match to nfqueue kHoldQueue (HoldQueue reads them). A key's hold elements
//     leave in the transaction that installs its mapping and come back in the
//     one that removes it.
//   - chains `mark_pre`/`mark_out` (nat, prerouting/output, priority -110:
//     nat chains see only a flow's first packet, before it is confirmed, and
//     must come before the DNAT chains): set its ct timeout policy and the mask's bits
//     of its ct mark: they clear those bits, then jump to the kind's chain
//     `markbits4`... (no hook), which sets each bit of the mapping's mark,
//     one rule per bit of the mask. Others' bits stay. (`ct mark set ct mark
//     & ~mask | value` in one rule needs a bitwise OR between two registers:
//     kernel 6.13+ has it, but nft before 1.1 aborts listing such a rule.)
//   - chains `dnat_pre`/`dnat_out` (nat, prerouting/output, priority -100): DNAT.
//   - wildcard rules match only local destinations (`fib daddr type local`),
//     never 127.0.0.0/8 or ::1, and check `meta nfproto` first; output rules
//     match only local destinations, so the host's own outbound traffic is
//     never captured.
//   - one ct timeout object per distinct (protocol, family, flow_timeout),
//     shared by value, created when first used. Deleting one walks the
//     conntrack table, so one no mapping uses is kept for reuse: up to 32,
//     past that at most 4 are deleted per transaction (more only to keep
//     the table under max_mappings + 32 objects).
//
// The table has the owner and persist flags where the kernel has them (6.9+):
// no other process can change it while netd runs, it outlives netd, and the
// next netd adopts it. On older kernels it is a plain table. Either way Open()
// reads back what is installed, so a restarted netd reconciles without
// touching live flows. All changes go through one netlink socket (an owned
// table accepts changes only from its owner's socket) as one batch each.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <vector>

#include "common/ipc/netd_protocol.h"
#include "common/status.h"

namespace netd {

using ipc::netd::Hold;
using ipc::netd::Mapping;
using ipc::netd::MappingKey;

struct InstalledMapping {
  Mapping mapping;
  std::uint32_t mark = 0;  // the ct mark of its flows (inside the mark mask)
  friend bool operator==(const InstalledMapping&, const InstalledMapping&) = default;
};

class NftTable {
 public:
  struct Options {
    // ct mark bits netd uses: one contiguous run of bits, e.g. 0xffff0000.
    std::uint32_t mark_mask = 0xffff0000;
    // Most mappings netd holds; at most the number of mark values the mask has.
    std::uint32_t max_mappings = 10000;
    // Test hooks: the table name (production always uses "proxygw"), and
    // whether to ask for owner+persist (false: a plain table, as on kernels
    // before 6.9).
    const char* table_name = "proxygw";
    bool try_persist = true;
  };

  // The nfqueue the hold chains queue to ("pg"). Queues are per network
  // namespace; another user of this number in netd's namespace would clash.
  static constexpr std::uint16_t kHoldQueue = 0x7067;

  // Opens the netlink socket, then creates the table or adopts an existing one
  // (an orphaned persistent table, or a plain table of ours) and reads back its
  // mappings. A table whose layout is not this version's is rebuilt, empty.
  // Needs CAP_NET_ADMIN. Fails if another live process owns the table.
  static common::Result<std::unique_ptr<NftTable>> Open(const Options& options);
  ~NftTable();
  NftTable(const NftTable&) = delete;
  NftTable& operator=(const NftTable&) = delete;

  // True when the table has the owner and persist flags.
  bool persistent() const;
  // What Open() did: "created", "adopted", "rebuilt".
  const char* how_opened() const;
  std::uint32_t mark_mask() const;
  std::uint32_t max_mappings() const;

  // The installed mappings with the marks their flows carry (read back
  // from the kernel after Open(): those of the policy netd ran with then).
  const std::map<MappingKey, InstalledMapping>& installed() const;

  struct Outcome {
    std::uint32_t added = 0;      // new keys, and keys whose target or timeout changed
    std::uint32_t removed = 0;
    std::uint32_t unchanged = 0;
    // For the caller's bookkeeping: mappings whose key is no longer installed
    // (with the mark their flows carry), and new keys. A replaced mapping
    // (same key) is in neither.
    std::vector<InstalledMapping> gone, fresh;
  };

  // The holds by key, whether or not the key's mapping is installed; a
  // hold's elements are in the kernel only while its key is cold. Empty
  // after Open(): an adopted table's hold sets stay as they are (the keys
  // they hold are unknown to netd until the engine's full sync, which
  // rewrites them).
  const std::map<MappingKey, Hold>& holds() const;

  // Sets (hold_s >= 1) or clears (hold_s 0) the hold of each key, in one
  // transaction. The caller has validated them.
  common::Status SetHolds(const std::vector<Hold>& holds);

  // Makes the installed set exactly `desired` (each mapping with the mark
  // the policy gives its key), and the holds exactly `holds`, in one
  // transaction. A mapping that is unchanged, mark included, keeps its
  // elements, so its flows are untouched; one whose mark differs (the
  // policy changed while netd was away) is rewritten. All or nothing: on
  // error nothing changed. The caller has validated `desired` (unique keys,
  // no wildcard/specific overlap, limits).
  common::Result<Outcome> Sync(const std::vector<InstalledMapping>& desired,
                               const std::vector<Hold>& holds = {});

  // Installs or replaces each of `enable` and removes each key of `disable`
  // that is installed (others count as unchanged), in one transaction. Its
  // cost depends on the size of the change, not of the table.
  common::Result<Outcome> Change(const std::vector<InstalledMapping>& enable,
                                 const std::vector<MappingKey>& disable);

  // Deletes the whole table (and with it every mapping). After this the
  // object must not be used.
  common::Status DeleteTable();

  // The mark value for mark id `id` (1-based, the policy's) under `mask`,
  // the id of a mark, and the number of ids the mask has.
  static std::uint32_t MarkFor(std::uint32_t id, std::uint32_t mask);
  static std::uint32_t IdOf(std::uint32_t mark, std::uint32_t mask);
  static std::uint32_t MarkCapacity(std::uint32_t mask);

 private:
  struct Impl;
  explicit NftTable(std::unique_ptr<Impl> impl);
  struct Delta;
  Delta Plan(const std::vector<InstalledMapping>& enable,
             const std::vector<MappingKey>& disable) const;
  common::Result<Outcome> Commit(const Delta& d);
  std::unique_ptr<Impl> impl_;
};

}  // namespace netd
