// Server::Impl: the state of netd's event loop (see server.h) and the pieces
// the loop calls. Private to the server, whose code is in three files:
// server.cc (the loop and the engine's connection), server_requests.cc (the
// dispatch table: a validator and an applier per request) and
// server_flows.cc (conntrack events, probes, and the flow counts pushed to
// the engine). Runs inside proxygw-netd only, single-threaded.
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
  bool subscribed = false;
  bool push_resync = false;  // pushes were dropped under backpressure
  std::deque<std::vector<std::uint8_t>> out;
};

struct Server::Impl {
  ServerOptions opt;
  NftTable& table;
  FlowTracker& tracker;
  common::UniqueFd epoll;
  common::UniqueFd signals;
  std::unique_ptr<Session> session;
  FlowCounter counter;
  // Key -> mark of a removed mapping, and the same by mark (marks are unique).
  std::map<ipc::netd::MappingKey, std::uint32_t> retired;
  std::map<std::uint32_t, ipc::netd::MappingKey> retired_marks;
  PortIndex ports;  // of table.installed(), for Change's overlap check
  // While set, the event socket is out of the epoll set until then (kEventBatch).
  std::optional<FlowCounter::Clock::time_point> events_resume;
  bool stop = false;
  Exit exit = Exit::kSignal;

  Impl(const ServerOptions& o, NftTable& t, FlowTracker& f) : opt(o), table(t), tracker(f) {
    Reindex();
  }
  void Reindex() {
    ports.Clear();
    for (const auto& [k, im] : table.installed()) ports.Add(k);
  }

  // --- The dispatch table: one row per request (server_requests.cc) ---
  using Validator = std::optional<Refusal> (Impl::*)(const Session&,
                                                     const ipc::netd::Request&) const;
  using Applier = common::Result<ipc::netd::ReplyBody> (Impl::*)(Session&,
                                                                 const ipc::netd::Request&);
  struct OpRow {
    ipc::netd::Op op;
    Validator validate;
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
  std::optional<Refusal> ValidateShutdown(const Session&, const ipc::netd::Request&) const;

  common::Result<ipc::netd::ReplyBody> ApplyHello(Session&, const ipc::netd::Request&);
  common::Result<ipc::netd::ReplyBody> ApplySyncBegin(Session&, const ipc::netd::Request&);
  common::Result<ipc::netd::ReplyBody> ApplySyncAdd(Session&, const ipc::netd::Request&);
  common::Result<ipc::netd::ReplyBody> ApplySyncCommit(Session&, const ipc::netd::Request&);
  common::Result<ipc::netd::ReplyBody> ApplyChange(Session&, const ipc::netd::Request&);
  common::Result<ipc::netd::ReplyBody> ApplyFlush(Session&, const ipc::netd::Request&);
  common::Result<ipc::netd::ReplyBody> ApplySubscribe(Session&, const ipc::netd::Request&);
  common::Result<ipc::netd::ReplyBody> ApplyShutdown(Session&, const ipc::netd::Request&);

  // --- Checks the validators share (server_requests.cc) ---
  std::optional<Refusal> NeedHello(const Session& s) const;
  std::optional<Refusal> NotInSync(const Session& s) const;
  static std::optional<Refusal> CheckMappings(const std::vector<ipc::netd::Mapping>& ms);
  static std::optional<Refusal> CheckKeys(const std::vector<ipc::netd::MappingKey>& ks);
  // `ms` as a set: duplicate keys are refused.
  static std::optional<Refusal> ToSet(const std::vector<ipc::netd::Mapping>& ms,
                                      std::map<ipc::netd::MappingKey, ipc::netd::Mapping>* out);
  std::optional<Refusal> CheckCount(std::size_t n) const;
  std::optional<Refusal> CheckSet(
      const std::map<ipc::netd::MappingKey, ipc::netd::Mapping>& set) const;

  std::vector<ipc::netd::Warning> WarningsFor(const std::vector<ipc::netd::Mapping>& ms) const;
  void Retire(const NftTable::Outcome& o);
  ipc::netd::ApplyReply ToReply(const NftTable::Outcome& o,
                                std::vector<ipc::netd::Warning> w) const;

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
  void PushAll(Session& s);
};

}  // namespace netd
