#include "proxygw-engine/netd_dataplane.h"

#include <algorithm>
#include <set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "proxygw-engine/netd_connection.h"
#include "proxygw-engine/netd_stubs.h"
#include "proxygw-engine/repeated_failure.h"
#include "proxygw-engine/retry_timer.h"
#include "proxygw-netd/validate.h"

namespace engine {

namespace asio = boost::asio;
using common::Result;
using common::Status;
using namespace ipc::netd;
using Clock = std::chrono::steady_clock;

namespace {

std::string WarningText(WarningCode c) {
  switch (c) {
    case WarningCode::kRouteLocalnetOff:
      return "remote clients cannot reach this loopback destination: "
             "net.ipv4.conf.<interface>.route_localnet is 0 (proxygw does not change sysctls; "
             "set it, or give the backend a non-loopback address)";
    case WarningCode::kIpv6LoopbackLocalOnly:
      return "only local clients can reach an IPv6 loopback destination (::1); give the backend "
             "another address for remote clients";
  }
  return "unknown warning";
}

}  // namespace

struct NetdDataplane::Impl : std::enable_shared_from_this<Impl> {
  using Reply = NetdConnection::Reply;
  // kHandshake: hello, sync and subscribe are under way; kSnapshot: waiting
  // for the flow snapshot that follows the subscribe reply; kReady: counts
  // are current and requests may be sent.
  enum class Phase { kStopped, kDisconnected, kHandshake, kSnapshot, kReady };

  asio::io_context& io;
  std::string path;
  Logger log;
  Options opt;
  Listener listener;
  std::function<void(double)> change_observer;
  Phase phase = Phase::kStopped;
  std::unique_ptr<NetdConnection> conn;  // while connecting or connected
  RetryTimer reconnect;
  RepeatedFailure failure;
  std::uint32_t max_mappings = 0;  // netd's limit, from its hello
  netd_stubs::Installed desired;
  std::map<std::string, std::vector<Hold>> holds;  // by owner (frontend)
  bool synced = false;  // the full sync of this connection has been sent
  std::map<std::pair<Proto, common::AddrPort>, std::uint32_t> counts;
  std::set<std::pair<MappingKey, WarningCode>> warned;

  Impl(asio::io_context& i, std::string p, Logger l, Options o)
      : io(i),
        path(std::move(p)),
        log(std::move(l)),
        opt(o),
        reconnect(i, Backoff(o.first_retry, o.max_retry)),
        failure(o.repeat_log_every) {}

  bool ready() const { return phase == Phase::kReady; }

  void Connect() {
    if (phase != Phase::kDisconnected) return;
    NetdConnection::Handlers h;
    h.push = [w = weak_from_this()](const FlowCountsPush& p) {
      if (auto s = w.lock()) s->Counts(p);
    };
    h.knock = [w = weak_from_this()](const KnockPush& k) {
      if (auto s = w.lock(); s && s->listener.knocked) s->listener.knocked(k);
    };
    h.ended = [w = weak_from_this()](const std::string& why) {
      if (auto s = w.lock()) s->Disconnect(why);
    };
    auto c = NetdConnection::Open(io, path, opt.request_timeout, std::move(h));
    if (!c.ok()) return Retry(c.status().message());
    conn = std::move(c).value();
    phase = Phase::kHandshake;
    Handshake();
  }

  // Logs `why` unless it is a repeat, and connects again after the back-off.
  void Retry(const std::string& why) {
    if (auto repeats = failure.Note(why, Clock::now())) {
      if (*repeats == 0) {
        log.Warn("proxygw-netd unavailable, retrying", {{"error", why}});
      } else {
        log.Warn("proxygw-netd still unavailable, retrying",
                 {{"error", why}, {"repeated", std::to_string(*repeats)}});
      }
    }
    reconnect.Schedule([w = weak_from_this()] {
      if (auto s = w.lock()) s->Connect();
    });
  }

  // The connection ended (`why`), or is ended here (a bad reply): requests
  // pending on it fail, and a new one is made after the back-off.
  void Disconnect(const std::string& why) {
    if (phase == Phase::kDisconnected || phase == Phase::kStopped) return;
    bool was_ready = ready();
    phase = Phase::kDisconnected;  // first: the replies failing below find it so
    synced = false;
    counts.clear();
    auto ending = std::move(conn);
    if (ending) ending->Close(why);
    if (was_ready) {
      log.Warn("lost the connection to proxygw-netd; the kernel keeps forwarding",
               {{"reason", why}});
      (void)failure.Note(why, Clock::now());  // said just now
      if (listener.connection_changed) listener.connection_changed(false);
    }
    if (listener.counts_changed) listener.counts_changed();
    if (phase == Phase::kDisconnected) Retry(why);
  }

  void Send(RequestBody body, Reply reply) {
    if (!conn) return reply(Status::Unavailable("netd connection lost"));
    conn->Send(std::move(body), std::move(reply));
  }

  void Counts(const FlowCountsPush& push) {
    if (push.reset) counts.clear();
    for (const auto& c : push.counts) {
      auto key = std::make_pair(c.proto, c.destination);
      if (c.flows == 0) {
        counts.erase(key);
      } else {
        counts[key] = c.flows;
      }
    }
    if (phase == Phase::kSnapshot && push.reset) return Ready();
    if (ready() && listener.counts_changed) listener.counts_changed();
  }

  // A reply's Status: ok, or the error netd sent (its text, and errno). A
  // refusal of the request's content is InvalidArgument (asking again is
  // refused again); the rest is Unavailable.
  static Status StatusOf(const Result<NetdMessage>& r) {
    if (!r.ok()) return r.status();
    if (const auto* e = std::get_if<ErrorReply>(&r->body)) {
      std::string msg = std::string("netd: ") + ErrorCodeName(e->code) + ": " + e->message;
      switch (e->code) {
        case ErrorCode::kNotInstalled:
          return Status::NotFound(msg);
        case ErrorCode::kInvalid:
        case ErrorCode::kLimit:
          return Status::InvalidArgument(msg);
        default:
          return Status::Unavailable(msg);
      }
    }
    return Status::Ok();
  }

  // A change sent at `sent` got netd's reply (success or error) now.
  void Observe(Clock::time_point sent) {
    if (change_observer) {
      change_observer(std::chrono::duration<double>(Clock::now() - sent).count());
    }
  }

  void Warn(const std::vector<Warning>& ws) {
    for (const auto& w : ws) {
      if (!warned.insert({w.key, w.code}).second) continue;
      log.Warn(WarningText(w.code), {{"mapping", w.key.ToString()}});
    }
  }

  // --- the handshake: hello, sync, subscribe, snapshot ---

  void Handshake() {
    auto self = shared_from_this();
    Send(HelloRequest{kProtocolVersion}, [self](Result<NetdMessage> r) {
      if (Status st = StatusOf(r); !st.ok()) return self->Disconnect("hello: " + st.message());
      const auto* h = std::get_if<HelloReply>(&std::get<ReplyBody>(r->body));
      if (h == nullptr) return self->Disconnect("hello: unexpected reply");
      self->max_mappings = h->max_mappings;
      self->log.Info("connected to proxygw-netd",
                     {{"persistent_table", h->persistent_table ? "yes" : "no"},
                      {"installed", std::to_string(h->installed)},
                      {"max_mappings", std::to_string(h->max_mappings)}});
      self->SyncAll();
    });
  }

  // Sends the desired set, less the owners netd would refuse (they are told,
  // and forgotten: a refused request would close the connection of all).
  void SyncAll() {
    auto self = shared_from_this();
    netd_stubs::SyncPlan plan = netd_stubs::PlanSync(desired.owned(), max_mappings);
    for (const auto& [owner, why] : plan.refused) {
      log.Warn("left a target's mappings out of the sync: netd would refuse them",
               {{"target", owner}, {"error", why.message()}});
      desired.Erase(owner);
      asio::post(io, [w = weak_from_this(), owner, why] {
        if (auto s = w.lock(); s && s->listener.refused) s->listener.refused(owner, why);
      });
    }
    const std::vector<Mapping>& all = plan.mappings;
    auto fail = [self](const char* step) {
      return [self, step](Result<NetdMessage> r) {
        if (Status st = StatusOf(r); !st.ok()) {
          self->Disconnect(std::string(step) + ": " + st.message());
        }
      };
    };
    std::vector<Hold> all_holds;
    for (const auto& [owner, hs] : holds) all_holds.insert(all_holds.end(), hs.begin(), hs.end());
    Send(SyncBeginRequest{static_cast<std::uint32_t>(all.size()),
                          static_cast<std::uint32_t>(all_holds.size())},
         fail("sync-begin"));
    for (std::size_t i = 0; i < all.size(); i += kMaxItemsPerMessage) {
      auto end = std::min(all.size(), i + kMaxItemsPerMessage);
      Send(SyncAddRequest{std::vector<Mapping>(all.begin() + static_cast<std::ptrdiff_t>(i),
                                               all.begin() + static_cast<std::ptrdiff_t>(end))},
           fail("sync-add"));
    }
    for (std::size_t i = 0; i < all_holds.size(); i += kMaxHoldsPerMessage) {
      auto end = std::min(all_holds.size(), i + kMaxHoldsPerMessage);
      Send(SyncAddRequest{{},
                          std::vector<Hold>(all_holds.begin() + static_cast<std::ptrdiff_t>(i),
                                            all_holds.begin() + static_cast<std::ptrdiff_t>(end))},
           fail("sync-add"));
    }
    synced = true;  // later Hold and Release requests follow the sync on the wire
    Send(SyncCommitRequest{}, [self](Result<NetdMessage> r) {
      if (Status st = StatusOf(r); !st.ok()) return self->Disconnect("sync: " + st.message());
      const auto* a = std::get_if<ApplyReply>(&std::get<ReplyBody>(r->body));
      if (a == nullptr) return self->Disconnect("sync: unexpected reply");
      self->log.Info("dataplane synchronised", {{"added", std::to_string(a->added)},
                                                {"removed", std::to_string(a->removed)},
                                                {"unchanged", std::to_string(a->unchanged)}});
      self->Warn(a->warnings);
      self->Subscribe();
    });
  }

  void Subscribe() {
    auto self = shared_from_this();
    Send(SubscribeRequest{}, [self](Result<NetdMessage> r) {
      if (Status st = StatusOf(r); !st.ok()) return self->Disconnect("subscribe: " + st.message());
      self->phase = Phase::kSnapshot;  // ready once the snapshot that follows is in
      if (self->conn) self->conn->AwaitPush("its flow snapshot");
    });
  }

  void Ready() {
    phase = Phase::kReady;
    reconnect.Reset();  // only now: a refusal during the handshake keeps backing off
    failure.Clear();
    if (listener.connection_changed) listener.connection_changed(true);
  }

  // Sends `body` after this connection's sync; a refusal drops the
  // connection (the next sync restates the holds).
  void SendAfterSync(RequestBody body, const char* step) {
    if (!conn || !synced) return;
    auto self = shared_from_this();
    Send(std::move(body), [self, step](Result<NetdMessage> r) {
      if (Status st = StatusOf(r); !st.ok()) self->Disconnect(std::string(step) + ": " + st.message());
    });
  }

  void Stop() {
    if (phase == Phase::kStopped) return;
    phase = Phase::kStopped;
    reconnect.Cancel();
    auto ending = std::move(conn);
    if (ending) ending->Close("dataplane stopped");
  }
};

NetdDataplane::NetdDataplane(asio::io_context& io, std::string socket_path, Logger log,
                             Options options)
    : impl_(std::make_shared<Impl>(io, std::move(socket_path), std::move(log), options)) {}

NetdDataplane::~NetdDataplane() { Stop(); }

void NetdDataplane::Start() {
  if (impl_->phase != Impl::Phase::kStopped) return;
  impl_->phase = Impl::Phase::kDisconnected;
  impl_->Connect();
}

void NetdDataplane::Stop() { impl_->Stop(); }

void NetdDataplane::Shutdown(bool remove_table, Done done) {
  if (!impl_->ready()) {
    Stop();
    done(Status::Unavailable("not connected to proxygw-netd"));
    return;
  }
  std::weak_ptr<Impl> weak = impl_;
  impl_->Send(ShutdownRequest{remove_table}, [weak, done](Result<NetdMessage> r) {
    Status st = Impl::StatusOf(r);
    if (auto s = weak.lock()) s->Stop();
    done(st);
  });
}

void NetdDataplane::SetListener(Listener listener) { impl_->listener = std::move(listener); }

void NetdDataplane::SetChangeObserver(std::function<void(double)> observer) {
  impl_->change_observer = std::move(observer);
}

bool NetdDataplane::connected() const { return impl_->ready(); }

void NetdDataplane::Enable(const std::string& owner, const std::vector<Mapping>& mappings,
                           Done done) {
  if (!impl_->ready()) return done(Status::Unavailable("not connected to proxygw-netd"));
  auto change = impl_->desired.Enable(owner, mappings, impl_->max_mappings);
  if (!change.ok()) return done(change.status());
  auto self = impl_;
  impl_->Send(std::move(change).value(),
              [self, owner, mappings, done, sent = Clock::now()](Result<NetdMessage> r) {
                if (r.ok()) self->Observe(sent);
                Status st = Impl::StatusOf(r);
                if (st.ok()) {
                  self->desired.Set(owner, mappings);
                  if (const auto* a = std::get_if<ApplyReply>(&std::get<ReplyBody>(r->body))) {
                    self->Warn(a->warnings);
                  }
                }
                done(st);
              });
}

void NetdDataplane::Disable(const std::string& owner, Done done) {
  if (!impl_->desired.Has(owner)) return done(Status::Ok());
  if (!impl_->ready()) return done(Status::Unavailable("not connected to proxygw-netd"));
  auto self = impl_;
  impl_->Send(impl_->desired.Disable(owner),
              [self, owner, done, sent = Clock::now()](Result<NetdMessage> r) {
                if (r.ok()) self->Observe(sent);
                Status st = Impl::StatusOf(r);
                if (st.ok()) self->desired.Erase(owner);
                done(st);
              });
}

void NetdDataplane::Flush(const std::vector<MappingKey>& keys, Done done) {
  if (keys.empty()) return done(Status::Ok());
  if (!impl_->ready()) return done(Status::Unavailable("not connected to proxygw-netd"));
  auto flush = netd_stubs::Flush(keys);
  if (!flush.ok()) return done(flush.status());
  impl_->Send(std::move(flush).value(), [done](Result<NetdMessage> r) { done(Impl::StatusOf(r)); });
}

void NetdDataplane::Preset(const std::string& owner, const std::vector<Mapping>& mappings) {
  impl_->desired.Set(owner, mappings);
}

Status NetdDataplane::SetHolds(const std::string& owner, const std::vector<Hold>& hs) {
  std::map<MappingKey, const Hold*> wanted;
  for (const auto& h : hs) {
    if (Status st = netd::ValidateHold(h, /*clear_ok=*/false); !st.ok()) return st;
    if (!wanted.emplace(h.key, &h).second) {
      return Status::InvalidArgument("hold of " + h.key.ToString() + ": listed twice");
    }
    for (const auto& [other, theirs] : impl_->holds) {
      if (other == owner) continue;
      for (const auto& t : theirs) {
        if (t.key == h.key) {
          return Status::InvalidArgument("hold of " + h.key.ToString() + ": held by " + other);
        }
      }
    }
  }
  // The change: new and changed holds, and the keys no longer held cleared.
  std::vector<Hold> change;
  auto& had = impl_->holds[owner];
  for (const auto& h : had) {
    auto it = wanted.find(h.key);
    if (it == wanted.end()) change.push_back(Hold{h.key, 0, {}});
  }
  for (const auto& h : hs) {
    if (std::find(had.begin(), had.end(), h) == had.end()) change.push_back(h);
  }
  had = hs;
  if (had.empty()) impl_->holds.erase(owner);
  for (std::size_t i = 0; i < change.size(); i += kMaxHoldsPerMessage) {
    auto end = std::min(change.size(), i + kMaxHoldsPerMessage);
    impl_->SendAfterSync(HoldRequest{std::vector<Hold>(change.begin() + static_cast<std::ptrdiff_t>(i),
                                                       change.begin() + static_cast<std::ptrdiff_t>(end))},
                         "hold");
  }
  return Status::Ok();
}

void NetdDataplane::Release(const std::vector<MappingKey>& keys) {
  for (std::size_t i = 0; i < keys.size(); i += kMaxItemsPerMessage) {
    auto end = std::min(keys.size(), i + kMaxItemsPerMessage);
    impl_->SendAfterSync(
        ReleaseRequest{std::vector<MappingKey>(keys.begin() + static_cast<std::ptrdiff_t>(i),
                                               keys.begin() + static_cast<std::ptrdiff_t>(end))},
        "release");
  }
}

std::uint32_t NetdDataplane::Flows(Proto proto, const common::AddrPort& dest) const {
  auto it = impl_->counts.find({proto, dest});
  return it == impl_->counts.end() ? 0 : it->second;
}

}  // namespace engine
