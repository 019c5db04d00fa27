// NftTable: the table's state in netd, and the transactions that change it
// (see nft_table.h). The layout and its batch messages are in nft_layout.cc,
// reading the table back in nft_readback.cc. Runs inside proxygw-netd only.
#include "proxygw-netd/nft_table.h"

#include <linux/netfilter/nf_tables.h>

#include <bit>
#include <cerrno>
#include <set>
#include <string>

#include "proxygw-netd/nft_layout.h"
#include "proxygw-netd/nft_readback.h"
#include "proxygw-netd/validate.h"

namespace netd {
namespace {

using common::Result;
using common::Status;
using namespace nft;  // layout, Batch, Netlink

// Kernel 6.9's NFT_TABLE_F_PERSIST; Debian 12's 6.1 headers lack it.
constexpr std::uint32_t kTableFlagPersist = 0x4;
constexpr std::uint32_t kTableFlagOwner = NFT_TABLE_F_OWNER;
// Deleting a ct timeout object walks the whole conntrack table (to detach it
// from the flows that use it), so objects no mapping uses are kept for reuse:
// up to kIdleTimeouts of them, and past that at most kTimeoutDeletes are
// deleted per transaction, the rest in later ones. Only a table that would
// otherwise hold more than max_mappings + kIdleTimeouts objects deletes more.
constexpr std::size_t kIdleTimeouts = 32;
constexpr std::size_t kTimeoutDeletes = 4;

}  // namespace

struct NftTable::Impl {
  Options opt;
  std::string table;
  Netlink nl;
  bool persistent = false;
  const char* how = "created";
  std::map<MappingKey, InstalledMapping> installed;
  std::map<MappingKey, Hold> holds;
  // The ct timeout objects in the table, with the number of installed
  // mappings that use each, and those that none uses.
  std::map<std::string, std::uint32_t> timeouts;
  std::set<std::string> idle_timeouts;

  explicit Impl(Netlink n) : nl(std::move(n)) {}

  void Clear() {
    installed.clear();
    holds.clear();
    timeouts.clear();
    idle_timeouts.clear();
  }

  std::uint32_t RefsOf(const std::string& name) const {
    auto it = timeouts.find(name);
    return it == timeouts.end() ? 0 : it->second;
  }
};

NftTable::NftTable(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
NftTable::~NftTable() = default;

std::uint32_t NftTable::MarkCapacity(std::uint32_t mask) {
  if (mask == 0) return 0;
  return mask >> std::countr_zero(mask);
}

std::uint32_t NftTable::MarkFor(std::uint32_t id, std::uint32_t mask) {
  return id << std::countr_zero(mask);
}

std::uint32_t NftTable::IdOf(std::uint32_t mark, std::uint32_t mask) {
  return (mark & mask) >> std::countr_zero(mask);
}

Result<std::unique_ptr<NftTable>> NftTable::Open(const Options& options) {
  std::uint32_t mask = options.mark_mask;
  if (mask == 0 || std::popcount(mask) != 32 - std::countl_zero(mask) - std::countr_zero(mask)) {
    return Status::InvalidArgument("ct mark mask must be one run of contiguous bits, e.g. 0xffff0000");
  }
  if (options.max_mappings == 0 || options.max_mappings > MarkCapacity(mask)) {
    return Status::InvalidArgument("max mappings must be 1-" + std::to_string(MarkCapacity(mask)) +
                                   " (the mark values the ct mark mask has)");
  }
  auto nl = Netlink::Open();
  if (!nl.ok()) return nl.status();
  auto impl = std::make_unique<Impl>(std::move(nl).value());
  impl->opt = options;
  impl->table = options.table_name;
  Impl& t = *impl;

  auto info = ReadTableInfo(t.nl, t.table);
  if (!info.ok()) return info.status();
  if (info->exists && (info->flags & kTableFlagOwner)) {
    return Status::Unavailable("table inet " + t.table +
                               " is owned by another running process (another proxygw-netd?)");
  }

  // Fresh layout: create (or replace) the table with everything in one batch,
  // owner+persist first, plain on kernels without them.
  auto build = [&](bool replace) -> Status {
    for (std::uint32_t flags : {kTableFlagOwner | kTableFlagPersist, 0u}) {
      if (flags != 0 && !t.opt.try_persist) continue;
      Batch b(t.nl.seq());
      if (replace) DelTable(b, t.table);
      AddTable(b, t.table, flags, LayoutTag(mask));
      AddLayout(b, t.table, mask);
      Status st = t.nl.Transact(b);
      if (st.ok()) {
        t.persistent = flags != 0;
        t.Clear();
        return st;
      }
      if (flags == 0 || t.nl.last_errno() != EOPNOTSUPP) return st.WithContext("create table");
    }
    return Status::Internal("unreachable");
  };

  // Another layout, or the same one for another mark mask: rebuilt.
  if (!info->exists || info->comment != LayoutTag(mask)) {
    Status st = build(info->exists);
    if (!st.ok()) return st;
    t.how = info->exists ? "rebuilt" : "created";
    return std::unique_ptr<NftTable>(new NftTable(std::move(impl)));
  }
  // Ours, orphaned or plain: adopt. Re-asserting owner+persist on an orphan
  // makes this socket its owner; a plain table stays plain.
  if (info->flags & kTableFlagPersist) {
    Batch b(t.nl.seq());
    AddTable(b, t.table, kTableFlagOwner | kTableFlagPersist, "");
    Status st = t.nl.Transact(b);
    if (!st.ok()) return st.WithContext("adopt table inet " + t.table);
    t.persistent = true;
  }
  auto read = ReadInstalled(t.nl, t.table, t.opt.mark_mask);
  if (!read.ok()) return read.status().WithContext("read table inet " + t.table);
  auto objs = ReadTimeoutObjects(t.nl, t.table);
  if (!objs.ok()) return objs.status();
  t.installed = std::move(read->installed);
  for (const auto& name : *objs) t.timeouts[name] = 0;
  for (const auto& [key, im] : t.installed) ++t.timeouts[TimeoutName(im.mapping)];
  for (const auto& [name, n] : t.timeouts) {
    if (n == 0) t.idle_timeouts.insert(name);
  }
  t.how = "adopted";
  if (!read->consistent) {
    // Half-written mappings cannot come from netd (every change is one
    // transaction): someone edited the table. Start clean.
    Status st = build(true);
    if (!st.ok()) return st;
    t.how = "rebuilt";
  }
  return std::unique_ptr<NftTable>(new NftTable(std::move(impl)));
}

bool NftTable::persistent() const { return impl_->persistent; }
const char* NftTable::how_opened() const { return impl_->how; }
std::uint32_t NftTable::mark_mask() const { return impl_->opt.mark_mask; }
std::uint32_t NftTable::max_mappings() const { return impl_->opt.max_mappings; }

const std::map<MappingKey, InstalledMapping>& NftTable::installed() const {
  return impl_->installed;
}

const std::map<MappingKey, Hold>& NftTable::holds() const { return impl_->holds; }

// What one transaction does to the installed set. Pointers are into
// `installed`, valid until Commit changes it.
struct NftTable::Delta {
  std::vector<const InstalledMapping*> gone;                                   // keys removed
  std::vector<std::pair<const InstalledMapping*, InstalledMapping>> replaced;  // same key
  std::vector<InstalledMapping> fresh;                                         // new keys
  std::uint32_t unchanged = 0;
  // A full sync: rewrite the hold sets (after a restart netd does not know
  // what is there).
  bool full = false;
  std::map<MappingKey, Hold> holds;  // holds set (hold_s >= 1) or cleared (0)
};

Result<NftTable::Outcome> NftTable::Sync(const std::vector<InstalledMapping>& desired,
                                         const std::vector<Hold>& holds) {
  std::set<MappingKey> keep;
  for (const auto& im : desired) keep.insert(im.mapping.key);
  std::vector<MappingKey> off;
  for (const auto& [k, im] : impl_->installed) {
    if (!keep.count(k)) off.push_back(k);
  }
  Delta d = Plan(desired, off);
  d.full = true;
  for (const auto& [k, h] : impl_->holds) d.holds[k] = Hold{k, 0, {}};
  for (const auto& h : holds) d.holds[h.key] = h;
  return Commit(d);
}

Result<NftTable::Outcome> NftTable::Change(const std::vector<InstalledMapping>& enable,
                                           const std::vector<MappingKey>& disable) {
  return Commit(Plan(enable, disable));
}

// Costs what the change touches, not what the table holds: a Change with
// 50,000 mappings installed builds the same batch as with none.
NftTable::Delta NftTable::Plan(const std::vector<InstalledMapping>& enable,
                               const std::vector<MappingKey>& disable) const {
  std::map<MappingKey, const InstalledMapping*> on;  // a key enabled twice: the last wins
  for (const auto& im : enable) on[im.mapping.key] = &im;
  std::set<MappingKey> off;
  for (const auto& k : disable) {
    if (!on.count(k)) off.insert(k);  // enabled and disabled: enabled, as in a Sync
  }
  Delta d;
  for (const auto& k : off) {
    auto it = impl_->installed.find(k);
    if (it != impl_->installed.end()) d.gone.push_back(&it->second);
    else ++d.unchanged;
  }
  for (const auto& [k, im] : on) {
    auto it = impl_->installed.find(k);
    if (it == impl_->installed.end()) d.fresh.push_back(*im);
    else if (!(*im == it->second)) d.replaced.emplace_back(&it->second, *im);  // or its mark
    else ++d.unchanged;
  }
  return d;
}

Status NftTable::SetHolds(const std::vector<Hold>& holds) {
  Delta d;
  for (const auto& h : holds) d.holds[h.key] = h;
  return Commit(d).status();
}

Result<NftTable::Outcome> NftTable::Commit(const Delta& d) {
  Impl& t = *impl_;
  if (Status st = ValidateCount(t.installed.size() - d.gone.size() + d.fresh.size(),
                                t.opt.max_mappings);
      !st.ok()) {
    return st;
  }
  Outcome out;
  out.unchanged = d.unchanged;
  out.removed = static_cast<std::uint32_t>(d.gone.size());
  out.added = static_cast<std::uint32_t>(d.replaced.size() + d.fresh.size());
  std::vector<InstalledMapping> removes, adds;
  for (const InstalledMapping* g : d.gone) removes.push_back(*g);
  for (const auto& [old, im] : d.replaced) {
    removes.push_back(*old);
    adds.push_back(im);
  }
  adds.insert(adds.end(), d.fresh.begin(), d.fresh.end());

  // Timeout objects: one per (protocol, family, timeout) in use, created
  // before the elements that name them; unused ones are kept, and deleted
  // after the elements, a few at a time (kIdleTimeouts).
  std::map<std::string, std::int64_t> refs_after;
  std::map<std::string, const Mapping*> user;
  for (const auto& im : removes) {
    auto name = TimeoutName(im.mapping);
    refs_after.try_emplace(name, t.RefsOf(name));
    --refs_after[name];
  }
  for (const auto& im : adds) {
    auto name = TimeoutName(im.mapping);
    refs_after.try_emplace(name, t.RefsOf(name));
    ++refs_after[name];
    user.try_emplace(name, &im.mapping);
  }
  std::vector<std::string> create, drop;
  std::set<std::string> idle_in, idle_out;  // names that become unused, or used again
  for (const auto& [name, n] : refs_after) {
    bool idle = t.idle_timeouts.count(name) > 0;
    if (n > 0 && !t.timeouts.count(name)) create.push_back(name);
    if (n > 0 && idle) idle_out.insert(name);
    if (n <= 0 && !idle && t.timeouts.count(name)) idle_in.insert(name);
  }
  std::size_t idle_after = t.idle_timeouts.size() + idle_in.size() - idle_out.size();
  std::size_t objects = t.timeouts.size() + create.size(), cap = t.opt.max_mappings + kIdleTimeouts;
  std::size_t excess =
      idle_after > kIdleTimeouts ? std::min(idle_after - kIdleTimeouts, kTimeoutDeletes) : 0;
  if (objects > cap) excess = std::max(excess, objects - cap);
  for (const auto* names : {&t.idle_timeouts, &idle_in}) {
    for (auto it = names->begin(); it != names->end() && drop.size() < excess; ++it) {
      if (!idle_out.count(*it)) drop.push_back(*it);
    }
  }

  // Hold elements are in the kernel while their key has a hold and is cold:
  // a key going cold gets its hold's, a key going warm loses them.
  std::map<MappingKey, bool> cold_after;
  for (const auto* g : d.gone) cold_after[g->mapping.key] = true;
  for (const auto& im : d.fresh) cold_after[im.mapping.key] = false;
  for (const auto& [k, h] : d.holds) cold_after.try_emplace(k, !t.installed.count(k));
  std::vector<Hold> holds_off, holds_on;
  for (const auto& [k, cold] : cold_after) {
    auto before = t.holds.find(k);
    auto change = d.holds.find(k);
    const Hold* was = before != t.holds.end() && !t.installed.count(k) ? &before->second : nullptr;
    const Hold* will = change != d.holds.end()
                           ? (change->second.hold_s ? &change->second : nullptr)
                           : (before != t.holds.end() ? &before->second : nullptr);
    if (!cold) will = nullptr;
    if (was && will && *was == *will && !d.full) continue;
    if (was && !d.full) holds_off.push_back(*was);
    if (will) holds_on.push_back(*will);
  }

  Batch b(t.nl.seq());
  for (const auto& name : create) AddTimeoutObject(b, t.table, *user.at(name));
  HoldElements(b, t.table, holds_off, /*add=*/false, /*flush=*/d.full);
  Elements(b, t.table, removes, /*add=*/false);
  Elements(b, t.table, adds, /*add=*/true);
  HoldElements(b, t.table, holds_on, /*add=*/true);
  for (const auto& name : drop) DelTimeoutObject(b, t.table, name);
  Status st = b.messages() ? t.nl.Transact(b) : Status::Ok();
  if (!st.ok()) return st;

  // `removes` starts with the gone mappings, `adds` ends with the fresh ones.
  out.gone.assign(removes.begin(), removes.begin() + static_cast<std::ptrdiff_t>(d.gone.size()));
  for (const auto& im : out.gone) t.installed.erase(im.mapping.key);
  for (const auto& im : adds) t.installed[im.mapping.key] = im;
  out.fresh = d.fresh;
  for (const auto& [name, n] : refs_after) {
    if (n > 0 || t.timeouts.count(name)) t.timeouts[name] = static_cast<std::uint32_t>(n);
  }
  for (const auto& name : idle_out) t.idle_timeouts.erase(name);
  t.idle_timeouts.insert(idle_in.begin(), idle_in.end());
  for (const auto& name : drop) {
    t.timeouts.erase(name);
    t.idle_timeouts.erase(name);
  }
  for (const auto& [k, h] : d.holds) {
    if (h.hold_s)
      t.holds[k] = h;
    else
      t.holds.erase(k);
  }
  return out;
}

Status NftTable::DeleteTable() {
  Batch b(impl_->nl.seq());
  DelTable(b, impl_->table);
  Status st = impl_->nl.Transact(b);
  if (st.ok()) impl_->Clear();
  return st;
}

}  // namespace netd
