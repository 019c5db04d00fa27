// Server::Impl: the state of netd's event loop (see server.h) and the pieces
// the loop calls. Private to the server, whose code is in three files:
// server.cc (the loop and the engine's connection), server_requests.cc (the
// dispatch table: a validator and an applier per request) and
// server_flows.cc (conntrack events, probes, and the flow counts pushed to
// the engine) and server_holds.cc (held packets, knocks, and the hold
// requests). Runs inside proxygw-netd only, single-threaded.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <deque>
#include <initializer_list>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "common/ipc/netd_protocol.h"
#include "common/status.h"
#include "common/unique_fd.h"
#include "proxygw-netd/flow_counter.h"
#include "proxygw-netd/flow_tracker.h"
#include "proxygw-netd/hold_queue.h"
#include "proxygw-netd/nft_table.h"
#include "proxygw-netd/server.h"
#include "proxygw-netd/validate.h"

namespace netd {

// "key=value key=value" for a log line; a value with a space, or an empty
// one, is quoted.
std::string Fields(std::initializer_list<std::pair<const char*, std::string>> kv);

// Why a request is refused before anything is applied.
struct Refusal {
  ipc::netd::ErrorCode code;
  std::string message;
};

struct Session {
  common::UniqueFd fd;
  uid_t uid = 0;
  pid_t pid = 0;
  bool hello = false;
  // A full sync in progress: SyncBegin's total and the chunks so far.
  std::optional<std::uint32_t> sync_total;
  std::vector<ipc::netd::Mapping> sync_staged;
  std::uint32_t sync_holds_total = 0;
  std::vector<ipc::netd::Hold> sync_holds;
  bool subscribed = false;
  bool push_resync = false;  // pushes were dropped under backpressure
  bool knock_all = false;    // a knock per key with packets held follows the reply
  std::deque<std::vector<std::uint8_t>> out;
};

struct Server::Impl {
  ServerOptions opt;
  NftTable& table;
  FlowTracker& tracker;
  HoldQueue& queue;
  common::UniqueFd epoll;
  common::UniqueFd signals;
  std::unique_ptr<Session> session;
  FlowCounter counter;
  PortIndex ports;  // of table.installed(), for Change's overlap check
  // While set, the event socket is out of the epoll set until then (kEventBatch).
  std::optional<FlowCounter::Clock::time_point> events_resume;
  // Packets held now, per hold key: ids oldest first, with when each came.
  struct Held {
    std::deque<std::pair<std::uint32_t, FlowCounter::Clock::time_point>> packets;
    common::IpAddress source;  // of the latest
    std::optional<FlowCounter::Clock::time_point> knocked;
  };
  std::map<ipc::netd::MappingKey, Held> held;
  std::size_t held_total = 0;
  bool stop = false;
  Exit exit = Exit::kSignal;

  Impl(const ServerOptions& o, NftTable& t, FlowTracker& f, HoldQueue& q)
      : opt(o), table(t), tracker(f), queue(q), counter(t.mark_mask()) {
    Reindex();
  }
  // After a sync: the port index and the flow timeouts by mark, anew.
  void Reindex() {
    ports.Clear();
    counter.ClearFlowTimeouts();
    for (const auto& [k, im] : table.installed()) {
      ports.Add(k);
      counter.SetFlowTimeout(im.mark, im.mapping.flow_timeout_s);
    }
  }

  // --- The dispatch table: one row per request (server_requests.cc) ---
  using Validator = std::optional<Refusal> (Impl::*)(const Session&,
                                                     const ipc::netd::Request&) const;
  using Applier = common::Result<ipc::netd::ReplyBody> (Impl::*)(Session&,
                                                                 const ipc::netd::Request&);
  // When a request may come: as the first (hello), or after it: at any
  // time, outside a sync, or inside one.
  enum class Phase { kFirst, kAfterHello, kNotInSync, kInSync };
  struct OpRow {
    ipc::netd::Op op;
    Phase phase;
    Validator validate;  // null: the phase is all there is to check
    Applier apply;
  };
  static const OpRow kOps[];

  std::optional<Refusal> ValidateHello(const Session&, const ipc::netd::Request&) const;
  std::optional<Refusal> ValidateSyncBegin(const Session&, const ipc::netd::Request&) const;
  std::optional<Refusal> ValidateSyncAdd(const Session&, const ipc::netd::Request&) const;
  std::optional<Refusal> ValidateSyncCommit(const Session&, const ipc::netd::Request&) const;
  std::optional<Refusal> ValidateChange(const Session&, const ipc::netd::Request&) const;
  std::optional<Refusal> ValidateFlush(const Session&, const ipc::netd::Request&) const;
  std::optional<Refusal> ValidateSubscribe(const Session&, const ipc::netd::Request&) const;
  std::optional<Refusal> ValidateHold(const Session&, const ipc::netd::Request&) const;
  std::optional<Refusal> ValidateRelease(const Session&, const ipc::netd::Request&) const;

  common::Result<ipc::netd::ReplyBody> ApplyHello(Session&, const ipc::netd::Request&);
  common::Result<ipc::netd::ReplyBody> ApplySyncBegin(Session&, const ipc::netd::Request&);
  common::Result<ipc::netd::ReplyBody> ApplySyncAdd(Session&, const ipc::netd::Request&);
  common::Result<ipc::netd::ReplyBody> ApplySyncCommit(Session&, const ipc::netd::Request&);
  common::Result<ipc::netd::ReplyBody> ApplyChange(Session&, const ipc::netd::Request&);
  common::Result<ipc::netd::ReplyBody> ApplyFlush(Session&, const ipc::netd::Request&);
  common::Result<ipc::netd::ReplyBody> ApplySubscribe(Session&, const ipc::netd::Request&);
  common::Result<ipc::netd::ReplyBody> ApplyShutdown(Session&, const ipc::netd::Request&);
  common::Result<ipc::netd::ReplyBody> ApplyHold(Session&, const ipc::netd::Request&);
  common::Result<ipc::netd::ReplyBody> ApplyRelease(Session&, const ipc::netd::Request&);

  // --- Checks the validators share (server_requests.cc) ---
  static std::optional<Refusal> CheckPhase(const Session& s, const OpRow& row);
  std::optional<Refusal> CheckMappings(const std::vector<ipc::netd::Mapping>& ms) const;
  static std::optional<Refusal> CheckKeys(const std::vector<ipc::netd::MappingKey>& ks);
  // `ms` as a set: duplicate keys are refused.
  static std::optional<Refusal> ToSet(const std::vector<ipc::netd::Mapping>& ms,
                                      std::map<ipc::netd::MappingKey, ipc::netd::Mapping>* out);
  std::optional<Refusal> CheckCount(std::size_t n) const;
  std::optional<Refusal> CheckSet(
      const std::map<ipc::netd::MappingKey, ipc::netd::Mapping>& set) const;

  std::vector<ipc::netd::Warning> WarningsFor(const std::vector<ipc::netd::Mapping>& ms) const;
  // `ms` with the marks the policy gives their keys.
  common::Result<std::vector<InstalledMapping>> Marked(const std::vector<ipc::netd::Mapping>& ms);

  // --- The loop and the engine's connection (server.cc) ---
  common::Status Watch(int fd, std::uint32_t events, bool modify = false);
  void Accept();
  void Reject(common::UniqueFd fd, ipc::netd::ErrorCode code, const std::string& why);
  void ReadRequests();
  void Handle(const std::vector<std::uint8_t>& bytes, bool* close);
  void Send(Session& s, const ipc::netd::NetdMessage& m);
  void FlushOut(Session& s);
  void CloseSession(const std::string& why);

  // --- Flow counts (server_flows.cc) ---
  void ReadFlows();
  void PauseEvents();
  void ResumeEventsIfDue();
  void ProbeDue();
  int WaitMs() const;
  void Resnapshot(const char* why);
  void PushCounts();
  void Push(Session& s, const std::vector<ipc::netd::DestinationCount>& counts, bool reset);
  void PushAll(Session& s);

  // --- Held packets (server_holds.cc) ---
  // Holds as a request states them: each valid, keys unique, no more than
  // the mapping limit, and none overlapping a port of `mappings` (wildcard
  // vs specific), when given.
  std::optional<Refusal> CheckHolds(const std::vector<ipc::netd::Hold>& hs, bool clear_ok,
                                    const PortIndex* mappings) const;
  bool Forwarded(const ipc::netd::MappingKey& key) const;
  void ReadHeld();
  std::chrono::seconds HoldTime(const ipc::netd::MappingKey& key) const;
  void ExpireHeld();
  std::optional<FlowCounter::Clock::time_point> NextHeldDeadline() const;
  // Gives every packet held for `key` verdict `v` and forgets them.
  void ReleaseHeld(const ipc::netd::MappingKey& key, HoldQueue::Verdict v, const char* why);
  // After a transaction that installed `fresh`: the held packets of keys
  // now installed go on to DNAT (for a UDP hold key, after the conntrack
  // entries its refused datagrams left are deleted), those of cold keys that
  // lost their hold are refused.
  void SettleHeld(const std::vector<InstalledMapping>& fresh);
  void Knock(const ipc::netd::MappingKey& key, Held& h);
  void KnockAll();
};

}  // namespace netd
