#include "proxygw-netd/server.h"

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <chrono>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <optional>
#include <vector>

#include "common/ipc/netd_protocol.h"
#include "common/unique_fd.h"
#include "proxygw-netd/flow_counter.h"
#include "proxygw-netd/log.h"
#include "proxygw-netd/validate.h"

namespace netd {
namespace {

using common::Result;
using common::Status;
using common::UniqueFd;
using namespace ipc::netd;

// Replies and pushes waiting for the engine to read, per connection. An
// engine that stops reading is disconnected rather than buffered without end.
constexpr std::size_t kMaxQueuedMessages = 256;

// Conntrack events are read in batches: after a read the event socket rests
// this long, and what arrived meanwhile is read at once. A burst of short
// connections (several events each) then costs netd and the engine a wake-up
// per batch, not per event; counts reach the engine at most this much later.
constexpr auto kEventBatch = std::chrono::milliseconds(25);

// Keys of removed mappings remembered for a later Flush (the engine drains by
// disabling first, then flushing). Bounded; forgotten when the mark is reused.
constexpr std::size_t kMaxRetired = 65536;

std::string Fields(std::initializer_list<std::pair<const char*, std::string>> kv) {
  std::string out;
  for (const auto& [k, v] : kv) {
    if (!out.empty()) out += ' ';
    out += k;
    out += '=';
    bool quote = v.find(' ') != std::string::npos || v.empty();
    if (quote) out += '"';
    out += v;
    if (quote) out += '"';
  }
  return out;
}

// Why a request is refused before anything is applied.
struct Refusal {
  ErrorCode code;
  std::string message;
};

struct Session {
  UniqueFd fd;
  uid_t uid = 0;
  pid_t pid = 0;
  bool hello = false;
  // A full sync in progress: SyncBegin's total and the chunks so far.
  std::optional<std::uint32_t> sync_total;
  std::vector<Mapping> sync_staged;
  bool subscribed = false;
  bool push_resync = false;  // pushes were dropped under backpressure
  std::deque<std::vector<std::uint8_t>> out;
};

}  // namespace

struct Server::Impl {
  ServerOptions opt;
  NftTable& table;
  FlowTracker& tracker;
  UniqueFd epoll;
  UniqueFd signals;
  std::unique_ptr<Session> session;
  FlowCounter counter;
  std::map<MappingKey, std::uint32_t> retired;  // key -> mark of a removed mapping
  std::map<std::uint32_t, MappingKey> retired_marks;  // the same, by mark (marks are unique)
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

  // --- The dispatch table: one row per request. ---
  using Validator = std::optional<Refusal> (Impl::*)(const Session&, const Request&) const;
  using Applier = Result<ReplyBody> (Impl::*)(Session&, const Request&);
  struct OpRow {
    Op op;
    Validator validate;
    Applier apply;
  };
  static const OpRow kOps[];

  std::optional<Refusal> ValidateHello(const Session&, const Request&) const;
  std::optional<Refusal> ValidateSyncBegin(const Session&, const Request&) const;
  std::optional<Refusal> ValidateSyncAdd(const Session&, const Request&) const;
  std::optional<Refusal> ValidateSyncCommit(const Session&, const Request&) const;
  std::optional<Refusal> ValidateChange(const Session&, const Request&) const;
  std::optional<Refusal> ValidateFlush(const Session&, const Request&) const;
  std::optional<Refusal> ValidateSubscribe(const Session&, const Request&) const;
  std::optional<Refusal> ValidateShutdown(const Session&, const Request&) const;

  Result<ReplyBody> ApplyHello(Session&, const Request&);
  Result<ReplyBody> ApplySyncBegin(Session&, const Request&);
  Result<ReplyBody> ApplySyncAdd(Session&, const Request&);
  Result<ReplyBody> ApplySyncCommit(Session&, const Request&);
  Result<ReplyBody> ApplyChange(Session&, const Request&);
  Result<ReplyBody> ApplyFlush(Session&, const Request&);
  Result<ReplyBody> ApplySubscribe(Session&, const Request&);
  Result<ReplyBody> ApplyShutdown(Session&, const Request&);

  // --- Helpers ---
  std::optional<Refusal> NeedHello(const Session& s) const {
    if (!s.hello) return Refusal{ErrorCode::kPhase, "hello must be the first request"};
    return std::nullopt;
  }
  std::optional<Refusal> NotInSync(const Session& s) const {
    if (s.sync_total) return Refusal{ErrorCode::kPhase, "a sync is in progress: send sync-add "
                                                        "or sync-commit"};
    return std::nullopt;
  }
  static std::optional<Refusal> CheckMappings(const std::vector<Mapping>& ms) {
    for (const auto& m : ms) {
      if (Status st = ValidateMapping(m); !st.ok()) return Refusal{ErrorCode::kInvalid, st.message()};
    }
    return std::nullopt;
  }
  static std::optional<Refusal> CheckKeys(const std::vector<MappingKey>& ks) {
    for (const auto& k : ks) {
      if (Status st = ValidateKey(k); !st.ok()) return Refusal{ErrorCode::kInvalid, st.message()};
    }
    return std::nullopt;
  }
  // `ms` as a set: duplicate keys are refused.
  static std::optional<Refusal> ToSet(const std::vector<Mapping>& ms,
                                      std::map<MappingKey, Mapping>* out) {
    for (const auto& m : ms) {
      if (!out->emplace(m.key, m).second) {
        return Refusal{ErrorCode::kInvalid, m.key.ToString() + ": listed twice"};
      }
    }
    return std::nullopt;
  }
  std::optional<Refusal> CheckCount(std::size_t n) const {
    if (Status st = ValidateCount(n, table.max_mappings()); !st.ok()) {
      return Refusal{ErrorCode::kLimit, st.message()};
    }
    return std::nullopt;
  }
  std::optional<Refusal> CheckSet(const std::map<MappingKey, Mapping>& set) const {
    if (auto x = CheckCount(set.size())) return x;
    if (Status st = ValidateSet(set, table.max_mappings()); !st.ok()) {
      return Refusal{ErrorCode::kInvalid, st.message()};
    }
    return std::nullopt;
  }

  std::vector<Warning> WarningsFor(const std::vector<Mapping>& ms) const;
  void Retire(const NftTable::Outcome& o);
  ApplyReply ToReply(const NftTable::Outcome& o, std::vector<Warning> w) const {
    return ApplyReply{o.added, o.removed, o.unchanged, std::move(w)};
  }

  // --- Loop pieces ---
  Status Watch(int fd, std::uint32_t events, bool modify = false) {
    epoll_event ev{};
    ev.events = events;
    ev.data.fd = fd;
    if (epoll_ctl(epoll.get(), modify ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0) {
      return Status::FromErrno("epoll_ctl", errno);
    }
    return Status::Ok();
  }
  void Accept();
  void Reject(UniqueFd fd, ErrorCode code, const std::string& why);
  void ReadRequests();
  void Handle(const std::vector<std::uint8_t>& bytes, bool* close);
  void Send(Session& s, const NetdMessage& m);
  void FlushOut(Session& s);
  void CloseSession(const std::string& why);
  void ReadFlows();
  void PauseEvents();
  void ResumeEventsIfDue();
  void ProbeDue();
  int WaitMs() const;
  void Resnapshot(const char* why);
  void PushCounts();
  void PushAll(Session& s);
};

const Server::Impl::OpRow Server::Impl::kOps[] = {
    {Op::kHello, &Impl::ValidateHello, &Impl::ApplyHello},
    {Op::kSyncBegin, &Impl::ValidateSyncBegin, &Impl::ApplySyncBegin},
    {Op::kSyncAdd, &Impl::ValidateSyncAdd, &Impl::ApplySyncAdd},
    {Op::kSyncCommit, &Impl::ValidateSyncCommit, &Impl::ApplySyncCommit},
    {Op::kChange, &Impl::ValidateChange, &Impl::ApplyChange},
    {Op::kFlush, &Impl::ValidateFlush, &Impl::ApplyFlush},
    {Op::kSubscribe, &Impl::ValidateSubscribe, &Impl::ApplySubscribe},
    {Op::kShutdown, &Impl::ValidateShutdown, &Impl::ApplyShutdown},
};

// --- Validators ---------------------------------------------------------------

std::optional<Refusal> Server::Impl::ValidateHello(const Session& s, const Request& r) const {
  if (s.hello) return Refusal{ErrorCode::kPhase, "hello was already sent on this connection"};
  auto v = std::get<HelloRequest>(r.body).version;
  if (v != kProtocolVersion) {
    return Refusal{ErrorCode::kVersion, "protocol version " + std::to_string(v) +
                                            " is not supported; this netd speaks " +
                                            std::to_string(kProtocolVersion)};
  }
  return std::nullopt;
}

std::optional<Refusal> Server::Impl::ValidateSyncBegin(const Session& s, const Request& r) const {
  if (auto x = NeedHello(s)) return x;
  if (auto x = NotInSync(s)) return x;
  auto total = std::get<SyncBeginRequest>(r.body).total;
  if (total > table.max_mappings()) {
    return Refusal{ErrorCode::kLimit, std::to_string(total) + " mappings; the limit is " +
                                          std::to_string(table.max_mappings())};
  }
  return std::nullopt;
}

std::optional<Refusal> Server::Impl::ValidateSyncAdd(const Session& s, const Request& r) const {
  if (auto x = NeedHello(s)) return x;
  if (!s.sync_total) return Refusal{ErrorCode::kPhase, "sync-add without sync-begin"};
  const auto& ms = std::get<SyncAddRequest>(r.body).mappings;
  if (s.sync_staged.size() + ms.size() > *s.sync_total) {
    return Refusal{ErrorCode::kLimit, "sync-add goes past the " + std::to_string(*s.sync_total) +
                                          " mappings announced by sync-begin"};
  }
  return CheckMappings(ms);
}

std::optional<Refusal> Server::Impl::ValidateSyncCommit(const Session& s, const Request&) const {
  if (auto x = NeedHello(s)) return x;
  if (!s.sync_total) return Refusal{ErrorCode::kPhase, "sync-commit without sync-begin"};
  if (s.sync_staged.size() != *s.sync_total) {
    return Refusal{ErrorCode::kPhase, "sync-commit after " + std::to_string(s.sync_staged.size()) +
                                          " of the " + std::to_string(*s.sync_total) +
                                          " mappings announced"};
  }
  std::map<MappingKey, Mapping> set;
  if (auto x = ToSet(s.sync_staged, &set)) return x;
  return CheckSet(set);
}

std::optional<Refusal> Server::Impl::ValidateChange(const Session& s, const Request& r) const {
  if (auto x = NeedHello(s)) return x;
  if (auto x = NotInSync(s)) return x;
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

std::optional<Refusal> Server::Impl::ValidateFlush(const Session& s, const Request& r) const {
  if (auto x = NeedHello(s)) return x;
  return CheckKeys(std::get<FlushRequest>(r.body).keys);
}

std::optional<Refusal> Server::Impl::ValidateSubscribe(const Session& s, const Request&) const {
  if (auto x = NeedHello(s)) return x;
  if (s.subscribed) return Refusal{ErrorCode::kPhase, "already subscribed"};
  return std::nullopt;
}

std::optional<Refusal> Server::Impl::ValidateShutdown(const Session& s, const Request&) const {
  return NeedHello(s);
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
  s.sync_staged.clear();
  s.sync_staged.reserve(*s.sync_total);
  return ReplyBody(EmptyReply{});
}

Result<ReplyBody> Server::Impl::ApplySyncAdd(Session& s, const Request& r) {
  const auto& ms = std::get<SyncAddRequest>(r.body).mappings;
  s.sync_staged.insert(s.sync_staged.end(), ms.begin(), ms.end());
  return ReplyBody(EmptyReply{});
}

Result<ReplyBody> Server::Impl::ApplySyncCommit(Session& s, const Request&) {
  std::vector<Mapping> staged = std::move(s.sync_staged);
  s.sync_staged.clear();
  s.sync_total.reset();
  auto out = table.Sync(staged);
  if (!out.ok()) return out.status();
  Retire(*out);
  Reindex();
  Log(LogLevel::kInfo, "sync applied",
      Fields({{"mappings", std::to_string(table.installed().size())},
              {"added", std::to_string(out->added)},
              {"removed", std::to_string(out->removed)},
              {"unchanged", std::to_string(out->unchanged)}}));
  return ReplyBody(ToReply(*out, WarningsFor(staged)));
}

Result<ReplyBody> Server::Impl::ApplyChange(Session&, const Request& r) {
  const auto& c = std::get<ChangeRequest>(r.body);
  auto out = table.Change(c.enable, c.disable);
  if (!out.ok()) return out.status();
  Retire(*out);
  for (const auto& im : out->gone) ports.Remove(im.mapping.key);
  for (const auto& im : out->fresh) ports.Add(im.mapping.key);
  Log(LogLevel::kInfo, "change applied",
      Fields({{"enabled", std::to_string(c.enable.size())},
              {"disabled", std::to_string(c.disable.size())},
              {"mappings", std::to_string(table.installed().size())}}));
  return ReplyBody(ToReply(*out, WarningsFor(c.enable)));
}

Result<ReplyBody> Server::Impl::ApplyFlush(Session&, const Request& r) {
  const auto& keys = std::get<FlushRequest>(r.body).keys;
  std::vector<std::uint32_t> marks;
  for (const auto& k : keys) {
    std::uint32_t mark = table.MarkOf(k);
    if (mark == 0) {
      auto it = retired.find(k);
      if (it != retired.end()) mark = it->second;
    }
    if (mark == 0) {
      return Status::NotFound(k.ToString() + ": not a mapping of this netd");
    }
    marks.push_back(mark);
  }
  for (std::size_t i = 0; i < marks.size(); ++i) {
    if (Status st = tracker.FlushMark(marks[i]); !st.ok()) {
      return st.WithContext("flush " + keys[i].ToString());
    }
  }
  Log(LogLevel::kInfo, "flows flushed", Fields({{"mappings", std::to_string(keys.size())}}));
  return ReplyBody(EmptyReply{});
}

Result<ReplyBody> Server::Impl::ApplySubscribe(Session& s, const Request&) {
  auto flows = tracker.Snapshot();
  if (!flows.ok()) return flows.status().WithContext("conntrack snapshot");
  counter.Reset(*flows, FlowCounter::Clock::now());
  counter.TakeChanges();
  s.subscribed = true;
  s.push_resync = true;  // the snapshot follows the reply
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

std::vector<Warning> Server::Impl::WarningsFor(const std::vector<Mapping>& ms) const {
  std::vector<Warning> out;
  bool localnet_known = false, localnet_on = false;
  for (const auto& m : ms) {
    const auto& d = m.destination.address;
    if (!d.IsLoopback()) continue;
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

void Server::Impl::Retire(const NftTable::Outcome& o) {
  auto forget = [&](std::map<MappingKey, std::uint32_t>::iterator it) {
    retired_marks.erase(it->second);
    retired.erase(it);
  };
  for (const auto& im : o.fresh) {
    // Installed again, or its mark now belongs to another mapping's flows.
    if (auto it = retired.find(im.mapping.key); it != retired.end()) forget(it);
    if (auto m = retired_marks.find(im.mark); m != retired_marks.end()) forget(retired.find(m->second));
  }
  for (const auto& im : o.gone) {
    if (auto it = retired.find(im.mapping.key); it != retired.end()) forget(it);
    retired[im.mapping.key] = im.mark;
    retired_marks[im.mark] = im.mapping.key;
  }
  while (retired.size() > kMaxRetired) forget(retired.begin());
}

// --- Connections ---------------------------------------------------------------

void Server::Impl::Reject(UniqueFd fd, ErrorCode code, const std::string& why) {
  NetdMessage m{0, ErrorReply{code, 0, why}};
  auto bytes = EncodeMessage(m);
  ssize_t ignored = send(fd.get(), bytes.data(), bytes.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
  (void)ignored;
}

void Server::Impl::Accept() {
  for (;;) {
    int raw = accept4(opt.listen_fd, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (raw < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return;
      // EMFILE and the like: log, keep serving; the peer sees a closed socket.
      Log(LogLevel::kWarn, "accept failed, ignoring", Fields({{"error", std::strerror(errno)}}));
      return;
    }
    UniqueFd fd(raw);
    ucred cred{};
    socklen_t len = sizeof cred;
    if (getsockopt(fd.get(), SOL_SOCKET, SO_PEERCRED, &cred, &len) != 0) {
      Log(LogLevel::kWarn, "peer credentials unavailable, closing",
          Fields({{"error", std::strerror(errno)}}));
      continue;
    }
    if (cred.uid != opt.engine_uid) {
      Log(LogLevel::kWarn, "refused a peer that is not the engine",
          Fields({{"uid", std::to_string(cred.uid)}, {"pid", std::to_string(cred.pid)}}));
      Reject(std::move(fd), ErrorCode::kDenied,
             "uid " + std::to_string(cred.uid) + " may not use netd");
      continue;
    }
    if (session) {
      Log(LogLevel::kWarn, "refused a second engine connection",
          Fields({{"pid", std::to_string(cred.pid)}, {"connected_pid", std::to_string(session->pid)}}));
      Reject(std::move(fd), ErrorCode::kBusy,
             "another engine (pid " + std::to_string(session->pid) + ") is connected");
      continue;
    }
    auto s = std::make_unique<Session>();
    s->uid = cred.uid;
    s->pid = cred.pid;
    if (!Watch(fd.get(), EPOLLIN).ok()) continue;
    s->fd = std::move(fd);
    session = std::move(s);
    Log(LogLevel::kInfo, "engine connected", Fields({{"pid", std::to_string(cred.pid)}}));
  }
}

void Server::Impl::CloseSession(const std::string& why) {
  if (!session) return;
  epoll_ctl(epoll.get(), EPOLL_CTL_DEL, session->fd.get(), nullptr);
  // Closing a Unix socket with unread requests makes the peer's next read
  // fail with ECONNRESET, which can hide the error reply sent just before
  // (a refused request that the engine had pipelined others behind). So
  // the unread requests are discarded first (bounded), and the peer reads
  // the reply and then end-of-file.
  for (std::size_t i = 0; i < kMaxQueuedMessages; ++i) {
    char sink[1];
    iovec iov{sink, sizeof sink};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    if (recvmsg(session->fd.get(), &msg, MSG_DONTWAIT) <= 0) break;
  }
  Log(LogLevel::kInfo, "engine disconnected",
      Fields({{"pid", std::to_string(session->pid)}, {"reason", why}}));
  session.reset();
}

void Server::Impl::Send(Session& s, const NetdMessage& m) {
  if (s.out.size() >= kMaxQueuedMessages) {
    CloseSession("the engine does not read its replies");
    return;
  }
  s.out.push_back(EncodeMessage(m));
  FlushOut(s);
}

void Server::Impl::FlushOut(Session& s) {
  while (!s.out.empty()) {
    const auto& b = s.out.front();
    ssize_t n = send(s.fd.get(), b.data(), b.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) {
        Watch(s.fd.get(), EPOLLIN | EPOLLOUT, /*modify=*/true);
        return;
      }
      CloseSession(std::string("send: ") + std::strerror(errno));
      return;
    }
    s.out.pop_front();
  }
  Watch(s.fd.get(), EPOLLIN, /*modify=*/true);
}

void Server::Impl::ReadRequests() {
  std::vector<std::uint8_t> buf(kMaxMessageBytes + 1);
  while (session && !stop) {
    iovec iov{buf.data(), buf.size()};
    msghdr msg{};
    msg.msg_iov = &iov;
    msg.msg_iovlen = 1;
    ssize_t n = recvmsg(session->fd.get(), &msg, MSG_DONTWAIT);
    if (n < 0) {
      if (errno == EAGAIN || errno == EWOULDBLOCK) return;
      if (errno == EINTR) continue;
      CloseSession(std::string("recv: ") + std::strerror(errno));
      return;
    }
    if (n == 0) {
      CloseSession("closed by the engine");
      return;
    }
    if ((msg.msg_flags & MSG_TRUNC) || static_cast<std::size_t>(n) > kMaxMessageBytes) {
      Log(LogLevel::kWarn, "refused an oversize message, closing", Fields({{"bytes", "over " + std::to_string(kMaxMessageBytes)}}));
      Send(*session, {0, ErrorReply{ErrorCode::kMalformed, 0,
                                    "message over " + std::to_string(kMaxMessageBytes) + " bytes"}});
      CloseSession("oversize message");
      return;
    }
    bool close = false;
    Handle(std::vector<std::uint8_t>(buf.begin(), buf.begin() + n), &close);
    if (close) {
      CloseSession("protocol error");
      return;
    }
  }
}

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
  if (auto refusal = (this->*row->validate)(s, *req)) {
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
}

// --- Flow counts -------------------------------------------------------------------

void Server::Impl::Resnapshot(const char* why) {
  auto flows = tracker.Snapshot();
  if (!flows.ok()) {
    Log(LogLevel::kError, "conntrack snapshot failed", Fields({{"error", flows.status().message()}}));
    return;
  }
  counter.Reset(*flows, FlowCounter::Clock::now());
  Log(LogLevel::kInfo, "flow counts resynchronised",
      Fields({{"reason", why}, {"flows", std::to_string(counter.flows())}}));
  if (session && session->subscribed) session->push_resync = true;
}

void Server::Impl::ReadFlows() {
  auto now = FlowCounter::Clock::now();
  auto r = tracker.ReadEvents([&](const FlowEvent& e) { counter.OnEvent(e, now); });
  if (!r.ok()) {
    Log(LogLevel::kWarn, "conntrack events failed", Fields({{"error", r.status().message()}}));
    Resnapshot("event error");
  } else if (*r == FlowTracker::ReadResult::kOverrun) {
    Resnapshot("event overrun");
  }
}

// Looks at the flows whose conntrack timeout should have run out: a live
// one gets a new deadline, a gone one stops counting. Bounded per round so
// that requests are not starved; the rest are due at the next round.
void Server::Impl::ProbeDue() {
  constexpr std::size_t kMaxProbesPerRound = 512;
  auto now = FlowCounter::Clock::now();
  for (const TrackedFlow& f : counter.Due(now, kMaxProbesPerRound)) {
    auto r = tracker.Probe(f);
    if (!r.ok()) {
      Log(LogLevel::kWarn, "conntrack probe failed", Fields({{"error", r.status().message()}}));
      counter.Reschedule(f.id, 0, now);
      continue;
    }
    if (*r) {
      counter.Reschedule(f.id, **r, now);
    } else {
      counter.Remove(f.id);
    }
  }
}

void Server::Impl::PauseEvents() {
  if (Status st = Watch(tracker.event_fd(), 0, /*modify=*/true); !st.ok()) {
    return;  // stays watched: every event is read at once, as before batching
  }
  events_resume = FlowCounter::Clock::now() + kEventBatch;
}

void Server::Impl::ResumeEventsIfDue() {
  if (!events_resume || FlowCounter::Clock::now() < *events_resume) return;
  if (Status st = Watch(tracker.event_fd(), EPOLLIN, /*modify=*/true); !st.ok()) {
    Log(LogLevel::kWarn, "cannot watch the conntrack event socket again",
        Fields({{"error", st.message()}}));
    return;  // retried at the next turn of the loop
  }
  events_resume.reset();
}

// How long the loop may sleep: until the next probe deadline or the end of
// an event batch, or forever.
int Server::Impl::WaitMs() const {
  auto next = counter.NextDeadline();
  if (events_resume && (!next || *events_resume < *next)) next = events_resume;
  if (!next) return -1;
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*next -
                                                                  FlowCounter::Clock::now())
                .count();
  return ms <= 0 ? 0 : static_cast<int>(std::min<long long>(ms + 1, 3600 * 1000));
}

// Sends every non-zero count, reset first, in as many pushes as it takes.
void Server::Impl::PushAll(Session& s) {
  auto all = counter.All();
  counter.TakeChanges();
  s.push_resync = false;
  std::size_t i = 0;
  do {
    FlowCountsPush p;
    p.reset = i == 0;
    for (; i < all.size() && p.counts.size() < kMaxItemsPerMessage; ++i) p.counts.push_back(all[i]);
    Send(s, {0, std::move(p)});
    if (!session) return;
  } while (i < all.size());
}

void Server::Impl::PushCounts() {
  if (!session || !session->subscribed) {
    counter.TakeChanges();
    return;
  }
  Session& s = *session;
  if (!s.out.empty()) {
    // The engine is behind: do not queue more; send a full snapshot once it
    // has caught up.
    if (counter.has_changes()) s.push_resync = true;
    counter.TakeChanges();
    return;
  }
  if (s.push_resync) {
    PushAll(s);
    return;
  }
  if (!counter.has_changes()) return;
  auto changes = counter.TakeChanges();
  for (std::size_t i = 0; i < changes.size(); i += kMaxItemsPerMessage) {
    FlowCountsPush p;
    auto end = std::min(changes.size(), i + kMaxItemsPerMessage);
    p.counts.assign(changes.begin() + static_cast<std::ptrdiff_t>(i),
                    changes.begin() + static_cast<std::ptrdiff_t>(end));
    Send(s, {0, std::move(p)});
    if (!session) return;
  }
}

// --- Server ---------------------------------------------------------------------------

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::Create(const ServerOptions& options, NftTable& table,
                                               FlowTracker& tracker) {
  auto impl = std::make_unique<Impl>(options, table, tracker);
  impl->epoll.Reset(epoll_create1(EPOLL_CLOEXEC));
  if (!impl->epoll.valid()) return Status::FromErrno("epoll_create1", errno);
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGINT);
  if (sigprocmask(SIG_BLOCK, &set, nullptr) != 0) return Status::FromErrno("sigprocmask", errno);
  impl->signals.Reset(signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC));
  if (!impl->signals.valid()) return Status::FromErrno("signalfd", errno);
  signal(SIGPIPE, SIG_IGN);
  for (int fd : {options.listen_fd, tracker.event_fd(), impl->signals.get()}) {
    if (Status st = impl->Watch(fd, EPOLLIN); !st.ok()) return st;
  }
  // Counts of flows that existed before netd started.
  impl->Resnapshot("start");
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

// The loop: wait (until input, or the next flow's probe deadline); accept new
// peers; read and answer the engine's requests; write what is queued for it;
// read conntrack events; probe flows whose timeout should have run out; push
// changed counts.
Result<Server::Exit> Server::Run() {
  Impl& s = *impl_;
  std::array<epoll_event, 16> events;
  while (!s.stop) {
    int n = epoll_wait(s.epoll.get(), events.data(), static_cast<int>(events.size()), s.WaitMs());
    if (n < 0) {
      if (errno == EINTR) continue;
      return Status::FromErrno("epoll_wait", errno);
    }
    for (int i = 0; i < n && !s.stop; ++i) {
      int fd = events[static_cast<std::size_t>(i)].data.fd;
      std::uint32_t ev = events[static_cast<std::size_t>(i)].events;
      if (fd == s.signals.get()) {
        signalfd_siginfo info{};
        ssize_t got = read(fd, &info, sizeof info);
        if (got == static_cast<ssize_t>(sizeof info)) {
          Log(LogLevel::kInfo, "signal received, exiting; the table stays",
              Fields({{"signal", strsignal(static_cast<int>(info.ssi_signo))}}));
          s.stop = true;
          s.exit = Exit::kSignal;
        }
      } else if (fd == s.opt.listen_fd) {
        s.Accept();
      } else if (fd == s.tracker.event_fd()) {
        s.ReadFlows();
        s.PauseEvents();
      } else if (s.session && fd == s.session->fd.get()) {
        if (ev & EPOLLOUT) s.FlushOut(*s.session);
        if (s.session && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) s.ReadRequests();
      }
    }
    s.ResumeEventsIfDue();
    s.ProbeDue();
    s.PushCounts();
  }
  // Deliver the last reply (a Shutdown's) before going.
  if (s.session) {
    for (int tries = 0; tries < 100 && s.session && !s.session->out.empty(); ++tries) {
      s.FlushOut(*s.session);
      if (s.session && !s.session->out.empty()) usleep(10000);
    }
  }
  return s.exit;
}

}  // namespace netd
