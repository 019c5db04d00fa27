// Server::Impl's dispatch table: one row per request, each a validator that
// checks the request against the phase, the limits and netd's own state, and
// an applier that changes the kernel through NftTable and FlowTracker. See
// server_impl.h; runs inside proxygw-netd only.
#include <malloc.h>
#include <unistd.h>

#include <map>
#include <set>
#include <string>
#include <vector>

#include "proxygw-netd/log.h"
#include "proxygw-netd/server_impl.h"

namespace netd {
namespace {

using common::Result;
using common::Status;
using namespace ipc::netd;

}  // namespace

const Server::Impl::OpRow Server::Impl::kOps[] = {
    {Op::kHello, Phase::kFirst, &Impl::ValidateHello, &Impl::ApplyHello},
    {Op::kSyncBegin, Phase::kNotInSync, &Impl::ValidateSyncBegin, &Impl::ApplySyncBegin},
    {Op::kSyncAdd, Phase::kInSync, &Impl::ValidateSyncAdd, &Impl::ApplySyncAdd},
    {Op::kSyncCommit, Phase::kInSync, &Impl::ValidateSyncCommit, &Impl::ApplySyncCommit},
    {Op::kChange, Phase::kNotInSync, &Impl::ValidateChange, &Impl::ApplyChange},
    {Op::kFlush, Phase::kAfterHello, &Impl::ValidateFlush, &Impl::ApplyFlush},
    {Op::kSubscribe, Phase::kAfterHello, &Impl::ValidateSubscribe, &Impl::ApplySubscribe},
    {Op::kShutdown, Phase::kAfterHello, nullptr, &Impl::ApplyShutdown},
    {Op::kHold, Phase::kNotInSync, &Impl::ValidateHold, &Impl::ApplyHold},
    {Op::kRelease, Phase::kAfterHello, &Impl::ValidateRelease, &Impl::ApplyRelease},
};

// --- Dispatch ------------------------------------------------------------------

// Decodes one request, finds its row, validates, applies and answers. A
// request that is malformed or refused sets *close; the kernel is untouched.
void Server::Impl::Handle(const std::vector<std::uint8_t>& bytes, bool* close) {
  Session& s = *session;
  auto req = DecodeRequest(bytes);
  if (!req.ok()) {
    std::uint32_t id = PeekRequestId(bytes);
    Log(LogLevel::kWarn, "refused a malformed message, closing",
        Fields({{"reason", req.status().message()}}));
    Send(s, {id, ErrorReply{ErrorCode::kMalformed, 0, req.status().message()}});
    *close = true;
    return;
  }
  const OpRow* row = nullptr;
  for (const OpRow& r : kOps) {
    if (r.op == req->op()) row = &r;
  }
  if (row == nullptr) {  // every request op has a row; a missing one is a bug
    Send(s, {req->id, ErrorReply{ErrorCode::kMalformed, 0, "no handler"}});
    *close = true;
    return;
  }
  auto refusal = CheckPhase(s, *row);
  if (!refusal && row->validate) refusal = (this->*row->validate)(s, *req);
  if (refusal) {
    Log(LogLevel::kWarn, "refused a request, closing",
        Fields({{"op", OpName(req->op())}, {"code", ErrorCodeName(refusal->code)},
                {"reason", refusal->message}}));
    Send(s, {req->id, ErrorReply{refusal->code, 0, refusal->message}});
    *close = true;
    return;
  }
  auto reply = (this->*row->apply)(s, *req);
  if (!session) return;
  if (!reply.ok()) {
    const Status& st = reply.status();
    ErrorCode code = st.IsNotFound() ? ErrorCode::kNotInstalled : ErrorCode::kKernel;
    Log(LogLevel::kWarn, "request failed",
        Fields({{"op", OpName(req->op())}, {"error", st.message()}}));
    Send(s, {req->id, ErrorReply{code, st.sys_errno(), st.message()}});
    return;
  }
  Send(s, {req->id, std::move(reply).value()});
  if (session && session->subscribed && session->push_resync && session->out.empty()) {
    PushAll(*session);
  }
  if (session && session->knock_all) KnockAll();
}

// --- Checks the validators share -------------------------------------------

std::optional<Refusal> Server::Impl::CheckPhase(const Session& s, const OpRow& row) {
  if (row.phase == Phase::kFirst) {
    if (!s.hello) return std::nullopt;
    return Refusal{ErrorCode::kPhase, "hello was already sent on this connection"};
  }
  if (!s.hello) return Refusal{ErrorCode::kPhase, "hello must be the first request"};
  if (row.phase == Phase::kNotInSync && s.sync_total) {
    return Refusal{ErrorCode::kPhase, "a sync is in progress: send sync-add or sync-commit"};
  }
  if (row.phase == Phase::kInSync && !s.sync_total) {
    return Refusal{ErrorCode::kPhase, std::string(OpName(row.op)) + " without sync-begin"};
  }
  return std::nullopt;
}

std::optional<Refusal> Server::Impl::CheckMappings(const std::vector<Mapping>& ms) const {
  for (const auto& m : ms) {
    if (Status st = ValidateMapping(m); !st.ok()) return Refusal{ErrorCode::kInvalid, st.message()};
    if (!opt.policy->Allows(m)) {
      return Refusal{ErrorCode::kInvalid, m.ToString() + ": not declared in netd's policy"};
    }
  }
  return std::nullopt;
}

std::optional<Refusal> Server::Impl::CheckKeys(const std::vector<MappingKey>& ks) {
  for (const auto& k : ks) {
    if (Status st = ValidateKey(k); !st.ok()) return Refusal{ErrorCode::kInvalid, st.message()};
  }
  return std::nullopt;
}

std::optional<Refusal> Server::Impl::ToSet(const std::vector<Mapping>& ms,
                                           std::map<MappingKey, Mapping>* out) {
  for (const auto& m : ms) {
    if (!out->emplace(m.key, m).second) {
      return Refusal{ErrorCode::kInvalid, m.key.ToString() + ": listed twice"};
    }
  }
  return std::nullopt;
}

std::optional<Refusal> Server::Impl::CheckCount(std::size_t n) const {
  if (Status st = ValidateCount(n, table.max_mappings()); !st.ok()) {
    return Refusal{ErrorCode::kLimit, st.message()};
  }
  return std::nullopt;
}

std::optional<Refusal> Server::Impl::CheckSet(const std::map<MappingKey, Mapping>& set) const {
  if (auto x = CheckCount(set.size())) return x;
  if (Status st = ValidateSet(set, table.max_mappings()); !st.ok()) {
    return Refusal{ErrorCode::kInvalid, st.message()};
  }
  return std::nullopt;
}

// --- Validators ---------------------------------------------------------------

std::optional<Refusal> Server::Impl::ValidateHello(const Session&, const Request& r) const {
  auto v = std::get<HelloRequest>(r.body).version;
  if (v != kProtocolVersion) {
    return Refusal{ErrorCode::kVersion, "protocol version " + std::to_string(v) +
                                            " is not supported; this netd speaks " +
                                            std::to_string(kProtocolVersion)};
  }
  return std::nullopt;
}

std::optional<Refusal> Server::Impl::ValidateSyncBegin(const Session&, const Request& r) const {
  const auto& b = std::get<SyncBeginRequest>(r.body);
  if (b.total > table.max_mappings() || b.holds > table.max_mappings()) {
    return Refusal{ErrorCode::kLimit, std::to_string(b.total) + " mappings and " +
                                          std::to_string(b.holds) + " holds; the limit is " +
                                          std::to_string(table.max_mappings())};
  }
  return std::nullopt;
}

std::optional<Refusal> Server::Impl::ValidateSyncAdd(const Session& s, const Request& r) const {
  const auto& add = std::get<SyncAddRequest>(r.body);
  if (s.sync_staged.size() + add.mappings.size() > *s.sync_total ||
      s.sync_holds.size() + add.holds.size() > s.sync_holds_total) {
    return Refusal{ErrorCode::kLimit, "sync-add goes past the " + std::to_string(*s.sync_total) +
                                          " mappings and " + std::to_string(s.sync_holds_total) +
                                          " holds announced by sync-begin"};
  }
  if (auto x = CheckHolds(add.holds, /*clear_ok=*/false, nullptr)) return x;
  return CheckMappings(add.mappings);
}

std::optional<Refusal> Server::Impl::ValidateSyncCommit(const Session& s, const Request&) const {
  if (s.sync_staged.size() != *s.sync_total || s.sync_holds.size() != s.sync_holds_total) {
    return Refusal{ErrorCode::kPhase, "sync-commit after " + std::to_string(s.sync_staged.size()) +
                                          " of the " + std::to_string(*s.sync_total) +
                                          " mappings and " + std::to_string(s.sync_holds.size()) +
                                          " of the " + std::to_string(s.sync_holds_total) +
                                          " holds announced"};
  }
  std::map<MappingKey, Mapping> set;
  if (auto x = ToSet(s.sync_staged, &set)) return x;
  if (auto x = CheckSet(set)) return x;
  PortIndex staged;
  for (const auto& [k, m] : set) staged.Add(k);
  return CheckHolds(s.sync_holds, /*clear_ok=*/false, &staged);
}

std::optional<Refusal> Server::Impl::ValidateChange(const Session&, const Request& r) const {
  const auto& c = std::get<ChangeRequest>(r.body);
  if (auto x = CheckMappings(c.enable)) return x;
  if (auto x = CheckKeys(c.disable)) return x;
  std::map<MappingKey, Mapping> enable;
  if (auto x = ToSet(c.enable, &enable)) return x;
  for (const auto& k : c.disable) {
    if (enable.count(k)) {
      return Refusal{ErrorCode::kInvalid, k.ToString() + ": both enabled and disabled"};
    }
  }
  // Checked against what the change touches, so that its cost does not grow
  // with the table; the installed set already satisfies every rule.
  const auto& installed = table.installed();
  std::vector<MappingKey> entering, leaving;
  for (const auto& [k, m] : enable) {
    if (!installed.count(k)) entering.push_back(k);
  }
  std::set<MappingKey> off(c.disable.begin(), c.disable.end());
  for (const auto& k : off) {
    if (installed.count(k)) leaving.push_back(k);
  }
  if (auto x = CheckCount(installed.size() + entering.size() - leaving.size())) return x;
  if (!ports.Overlaps(entering, leaving)) return std::nullopt;
  // Refused: the whole set as it would be names the overlapping mapping.
  std::map<MappingKey, Mapping> set;
  for (const auto& [k, im] : installed) set[k] = im.mapping;
  for (const auto& k : c.disable) set.erase(k);
  for (const auto& [k, m] : enable) set[k] = m;
  if (auto x = CheckSet(set)) return x;
  return Refusal{ErrorCode::kInvalid, "a wildcard and a specific mapping of the same port"};
}

std::optional<Refusal> Server::Impl::ValidateFlush(const Session&, const Request& r) const {
  return CheckKeys(std::get<FlushRequest>(r.body).keys);
}

std::optional<Refusal> Server::Impl::ValidateSubscribe(const Session& s, const Request&) const {
  if (s.subscribed) return Refusal{ErrorCode::kPhase, "already subscribed"};
  return std::nullopt;
}

// --- Appliers -------------------------------------------------------------------

Result<ReplyBody> Server::Impl::ApplyHello(Session& s, const Request&) {
  s.hello = true;
  HelloReply h;
  h.persistent_table = table.persistent();
  h.max_mappings = table.max_mappings();
  h.mark_mask = table.mark_mask();
  h.installed = static_cast<std::uint32_t>(table.installed().size());
  return ReplyBody(h);
}

Result<ReplyBody> Server::Impl::ApplySyncBegin(Session& s, const Request& r) {
  s.sync_total = std::get<SyncBeginRequest>(r.body).total;
  s.sync_holds_total = std::get<SyncBeginRequest>(r.body).holds;
  s.sync_staged.clear();
  s.sync_staged.reserve(*s.sync_total);
  s.sync_holds.clear();
  return ReplyBody(EmptyReply{});
}

Result<ReplyBody> Server::Impl::ApplySyncAdd(Session& s, const Request& r) {
  const auto& add = std::get<SyncAddRequest>(r.body);
  s.sync_staged.insert(s.sync_staged.end(), add.mappings.begin(), add.mappings.end());
  s.sync_holds.insert(s.sync_holds.end(), add.holds.begin(), add.holds.end());
  return ReplyBody(EmptyReply{});
}

Result<ReplyBody> Server::Impl::ApplySyncCommit(Session& s, const Request&) {
  std::vector<Mapping> staged = std::move(s.sync_staged);
  std::vector<Hold> holds = std::move(s.sync_holds);
  s.sync_staged.clear();
  s.sync_holds.clear();
  s.sync_total.reset();
  auto marked = Marked(staged);
  if (!marked.ok()) return marked.status();
  auto out = table.Sync(*marked, holds);
  if (!out.ok()) return out.status();
  Reindex();
  SettleHeld(out->fresh);
  // The staged set, its batch and the old index are free now: give their
  // pages back (glibc keeps freed heap memory otherwise; 50,000 mappings
  // leave tens of MiB).
  malloc_trim(0);
  Log(LogLevel::kInfo, "sync applied",
      Fields({{"mappings", std::to_string(table.installed().size())},
              {"added", std::to_string(out->added)},
              {"removed", std::to_string(out->removed)},
              {"unchanged", std::to_string(out->unchanged)}}));
  return ReplyBody(ApplyReply{out->added, out->removed, out->unchanged, WarningsFor(staged)});
}

Result<ReplyBody> Server::Impl::ApplyChange(Session&, const Request& r) {
  const auto& c = std::get<ChangeRequest>(r.body);
  auto marked = Marked(c.enable);
  if (!marked.ok()) return marked.status();
  auto out = table.Change(*marked, c.disable);
  if (!out.ok()) return out.status();
  for (const auto& im : out->gone) {
    ports.Remove(im.mapping.key);
    counter.SetFlowTimeout(im.mark, std::nullopt);
  }
  for (const auto& im : out->fresh) ports.Add(im.mapping.key);
  for (const auto& im : *marked) counter.SetFlowTimeout(im.mark, im.mapping.flow_timeout_s);
  SettleHeld(out->fresh);
  Log(LogLevel::kInfo, "change applied",
      Fields({{"enabled", std::to_string(c.enable.size())},
              {"disabled", std::to_string(c.disable.size())},
              {"mappings", std::to_string(table.installed().size())}}));
  return ReplyBody(ApplyReply{out->added, out->removed, out->unchanged, WarningsFor(c.enable)});
}

Result<ReplyBody> Server::Impl::ApplyFlush(Session&, const Request& r) {
  const auto& keys = std::get<FlushRequest>(r.body).keys;
  // Each mark walks the whole conntrack table once: a key listed twice
  // must not walk it again.
  std::map<std::uint32_t, MappingKey> marks;
  for (const auto& k : keys) {
    // Installed or not: the engine drains by disabling, then flushing, and
    // the key's flows carry its policy mark either way.
    std::uint32_t id = opt.policy->MarkId(k);
    if (id == 0) return Status::NotFound(k.ToString() + ": not a mapping of netd's policy");
    marks.emplace(NftTable::MarkFor(id, table.mark_mask()), k);
  }
  for (const auto& [mark, k] : marks) {
    if (Status st = tracker.FlushMark(mark); !st.ok()) {
      return st.WithContext("flush " + k.ToString());
    }
  }
  Log(LogLevel::kInfo, "flows flushed",
      Fields({{"mappings", std::to_string(keys.size())}, {"walks", std::to_string(marks.size())}}));
  return ReplyBody(EmptyReply{});
}

Result<ReplyBody> Server::Impl::ApplySubscribe(Session& s, const Request&) {
  auto flows = tracker.Snapshot();
  if (!flows.ok()) return flows.status().WithContext("conntrack snapshot");
  counter.Reset(*flows, FlowCounter::Clock::now());
  counter.TakeChanges();
  s.subscribed = true;
  s.push_resync = true;  // the snapshot follows the reply
  s.knock_all = true;    // and a knock per key with packets held
  return ReplyBody(EmptyReply{});
}

Result<ReplyBody> Server::Impl::ApplyShutdown(Session&, const Request& r) {
  bool remove = std::get<ShutdownRequest>(r.body).remove_table;
  if (remove) {
    if (Status st = table.DeleteTable(); !st.ok()) return st.WithContext("delete table");
    Log(LogLevel::kInfo, "table removed on request");
  }
  stop = true;
  exit = Exit::kShutdown;
  return ReplyBody(EmptyReply{});
}

Result<std::vector<InstalledMapping>> Server::Impl::Marked(const std::vector<Mapping>& ms) {
  std::vector<InstalledMapping> out;
  out.reserve(ms.size());
  std::uint32_t capacity = NftTable::MarkCapacity(table.mark_mask());
  for (const auto& m : ms) {
    std::uint32_t id = opt.policy->TakeMarkId(m.key, capacity);
    // Only under --no-policy, after `capacity` keys: a policy gives every
    // key it allows a mark that fits (checked at start).
    if (id == 0) return Status::Unavailable(m.key.ToString() + ": every ct mark is taken");
    out.push_back(InstalledMapping{m, NftTable::MarkFor(id, table.mark_mask())});
  }
  return out;
}

std::vector<Warning> Server::Impl::WarningsFor(const std::vector<Mapping>& ms) const {
  std::vector<Warning> out;
  bool localnet_known = false, localnet_on = false;
  // Bounded, as every list in a message: past the first kMaxItemsPerMessage
  // the engine's warning is made already.
  for (const auto& m : ms) {
    const auto& d = m.destination.address;
    if (!d.IsLoopback() || out.size() == kMaxItemsPerMessage) continue;
    if (d.is_v6()) {
      out.push_back({m.key, WarningCode::kIpv6LoopbackLocalOnly});
      continue;
    }
    if (!localnet_known && opt.route_localnet_fd >= 0) {
      char c = '0';
      localnet_known = pread(opt.route_localnet_fd, &c, 1, 0) == 1;
      localnet_on = c == '1';
    }
    if (localnet_known && !localnet_on) out.push_back({m.key, WarningCode::kRouteLocalnetOff});
  }
  return out;
}

}  // namespace netd
