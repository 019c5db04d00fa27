// Server::Impl's held packets: what the hold chains queued (HoldQueue), the
// knocks pushed to the engine, the hold time that refuses what waited too
// long, and the Hold and Release requests. See server_impl.h and the Hold
// contract in common/ipc/netd_protocol.h; runs inside proxygw-netd only.
#include <netinet/in.h>

#include <chrono>
#include <set>
#include <string>

#include "proxygw-netd/log.h"
#include "proxygw-netd/server_impl.h"

namespace netd {
namespace {

using common::Result;
using common::Status;
using namespace ipc::netd;
using Clock = FlowCounter::Clock;

// Past these, new packets are dropped (the client retransmits), not held.
constexpr std::size_t kMaxHeldPerKey = 256;
constexpr std::size_t kMaxHeldTotal = HoldQueue::kMaxHeld;
// At most one knock per key per interval, however many packets come.
constexpr auto kKnockInterval = std::chrono::seconds(1);

}  // namespace

std::optional<Refusal> Server::Impl::CheckHolds(const std::vector<Hold>& hs, bool clear_ok,
                                                const PortIndex* mappings) const {
  std::set<MappingKey> seen;
  for (const auto& h : hs) {
    auto invalid = [&](const char* why) {
      return Refusal{ErrorCode::kInvalid, "hold of " + h.key.ToString() + ": " + why};
    };
    if (Status st = netd::ValidateHold(h, clear_ok); !st.ok()) {
      return Refusal{ErrorCode::kInvalid, st.message()};
    }
    if (!seen.insert(h.key).second) return invalid("listed twice");
    // Clearing is always allowed: it only takes a hold away.
    if (h.hold_s && !opt.policy->Declares(h.key)) {
      return invalid("not a listen address of netd's policy");
    }
    // A wildcard hold would hold packets of a specific mapping's port, and
    // the other way round: refused like the same overlap between mappings.
    if (h.hold_s && mappings && mappings->Overlaps({h.key}, {})) {
      return invalid("overlaps a mapping of the same port");
    }
  }
  if (Status st = ValidateCount(hs.size(), table.max_mappings()); !st.ok()) {
    return Refusal{ErrorCode::kLimit, st.message()};
  }
  return std::nullopt;
}

std::optional<Refusal> Server::Impl::ValidateHold(const Session&, const Request& r) const {
  const auto& hs = std::get<HoldRequest>(r.body).holds;
  if (auto x = CheckHolds(hs, /*clear_ok=*/true, &ports)) return x;
  std::size_t after = table.holds().size();
  for (const auto& h : hs) after += (h.hold_s ? 1 : 0) - table.holds().count(h.key);
  return CheckCount(after);
}

std::optional<Refusal> Server::Impl::ValidateRelease(const Session&, const Request& r) const {
  return CheckKeys(std::get<ReleaseRequest>(r.body).keys);
}

Result<ReplyBody> Server::Impl::ApplyHold(Session&, const Request& r) {
  const auto& hs = std::get<HoldRequest>(r.body).holds;
  if (Status st = table.SetHolds(hs); !st.ok()) return st;
  SettleHeld({});
  Log(LogLevel::kInfo, "holds set",
      Fields({{"changed", std::to_string(hs.size())},
              {"holds", std::to_string(table.holds().size())}}));
  return ReplyBody(EmptyReply{});
}

Result<ReplyBody> Server::Impl::ApplyRelease(Session&, const Request& r) {
  for (const auto& k : std::get<ReleaseRequest>(r.body).keys) {
    ReleaseHeld(k, HoldQueue::Verdict::kAccept, "released");
  }
  return ReplyBody(EmptyReply{});
}

// Whether a mapping DNATs new flows to `key`'s address: its own, or the
// wildcard mapping of its port (a mapping beside a hold of the other kind).
bool Server::Impl::Forwarded(const MappingKey& key) const {
  MappingKey wildcard{key.proto, common::IpAddress::Unspecified(key.listen.family()), key.port};
  return table.installed().count(key) || table.installed().count(wildcard);
}

// A packet to a specific key's address belongs to that key's hold, else to
// the wildcard key of its port. One that a mapping forwards goes on at once.
void Server::Impl::ReadHeld() {
  auto now = Clock::now();
  Status st = queue.Read([&](const HeldPacket& p) {
    MappingKey key{p.proto, p.destination.address, p.destination.port};
    bool forwarded = Forwarded(key);
    if (!table.holds().count(key)) key.listen = common::IpAddress::Unspecified(key.listen.family());
    // Past the caps, or for a key netd knows no hold of (after a restart,
    // until the engine's sync): dropped, and the client retransmits.
    auto verdict = HoldQueue::Verdict::kDrop;
    if (forwarded) {
      verdict = HoldQueue::Verdict::kAccept;
    } else if (table.holds().count(key)) {
      Held& h = held[key];
      if (h.packets.size() < kMaxHeldPerKey && held_total < kMaxHeldTotal) {
        h.packets.emplace_back(p.id, now);
        h.source = p.source;
        ++held_total;
        if (!h.knocked || now - *h.knocked >= kKnockInterval) Knock(key, h);
        return;
      }
      if (h.packets.empty()) held.erase(key);
    }
    if (Status d = queue.Decide(p.id, verdict); !d.ok()) {
      Log(LogLevel::kWarn, "nfqueue verdict failed", Fields({{"error", d.message()}}));
    }
  });
  if (!st.ok()) {
    Log(LogLevel::kWarn, "reading held packets failed", Fields({{"error", st.message()}}));
  }
}

void Server::Impl::Knock(const MappingKey& key, Held& h) {
  if (!session || !session->subscribed) return;  // pending: sent at Subscribe
  h.knocked = Clock::now();
  Send(*session, {0, KnockPush{key, h.source, static_cast<std::uint32_t>(h.packets.size())}});
}

void Server::Impl::KnockAll() {
  if (session) session->knock_all = false;
  for (auto& [key, h] : held) Knock(key, h);
}

void Server::Impl::ReleaseHeld(const MappingKey& key, HoldQueue::Verdict v, const char* why) {
  auto it = held.find(key);
  if (it == held.end()) return;
  std::size_t failed = 0;
  for (const auto& [id, since] : it->second.packets) failed += !queue.Decide(id, v).ok();
  held_total -= it->second.packets.size();
  Log(LogLevel::kInfo, "held packets released",
      Fields({{"key", key.ToString()},
              {"packets", std::to_string(it->second.packets.size())},
              {"reason", why},
              {"failed", std::to_string(failed)}}));
  held.erase(it);
}

void Server::Impl::SettleHeld(const std::vector<InstalledMapping>& fresh) {
  for (const auto& im : fresh) {
    const MappingKey& key = im.mapping.key;
    if (key.proto != Proto::kUdp || !table.holds().count(key)) continue;
    // Datagrams refused while the key was cold left conntrack entries that
    // the client's next datagrams would follow past the DNAT.
    auto n = tracker.DeleteUnanswered(IPPROTO_UDP, {key.listen, key.port});
    if (!n.ok()) {
      Log(LogLevel::kWarn, "stale conntrack entries not deleted, ignoring",
          Fields({{"key", key.ToString()}, {"error", n.status().message()}}));
    }
  }
  std::vector<std::pair<MappingKey, const char*>> settled;  // and why
  for (const auto& [key, h] : held) {
    if (Forwarded(key)) {
      settled.emplace_back(key, "enabled");
    } else if (!table.holds().count(key)) {
      settled.emplace_back(key, "hold cleared");
    }
  }
  for (const auto& [key, why] : settled) ReleaseHeld(key, HoldQueue::Verdict::kAccept, why);
}

// The hold_s of `key`'s hold; 0 without one (cleared since).
std::chrono::seconds Server::Impl::HoldTime(const MappingKey& key) const {
  auto hold = table.holds().find(key);
  return std::chrono::seconds(hold == table.holds().end() ? 0 : hold->second.hold_s);
}

// Each packet is refused once it has been held its key's hold_s.
void Server::Impl::ExpireHeld() {
  auto now = Clock::now();
  for (auto it = held.begin(); it != held.end();) {
    auto limit = HoldTime(it->first);
    auto& packets = it->second.packets;
    std::size_t expired = 0;
    while (!packets.empty() && packets.front().second + limit <= now) {
      (void)queue.Decide(packets.front().first, HoldQueue::Verdict::kAccept);
      packets.pop_front();
      ++expired;
    }
    held_total -= expired;
    if (expired > 0) {
      Log(LogLevel::kInfo, "held packets refused: hold time over",
          Fields({{"key", it->first.ToString()}, {"packets", std::to_string(expired)}}));
    }
    it = packets.empty() ? held.erase(it) : std::next(it);
  }
}

std::optional<Clock::time_point> Server::Impl::NextHeldDeadline() const {
  std::optional<Clock::time_point> next;
  for (const auto& [key, h] : held) {
    auto at = h.packets.front().second + HoldTime(key);
    if (!next || at < *next) next = at;
  }
  return next;
}

}  // namespace netd
