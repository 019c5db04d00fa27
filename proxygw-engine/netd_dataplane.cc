#include "proxygw-engine/netd_dataplane.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <deque>
#include <set>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

namespace engine {

namespace asio = boost::asio;
using common::Result;
using common::Status;
using namespace ipc::netd;

namespace {

constexpr auto kMinBackoff = std::chrono::milliseconds(100);
constexpr auto kMaxBackoff = std::chrono::seconds(5);

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
  using Reply = std::function<void(Result<NetdMessage>)>;
  enum class Phase { kStopped, kDisconnected, kHandshake, kReady };

  asio::io_context& io;
  std::string path;
  Logger log;
  Listener listener;
  Phase phase = Phase::kStopped;
  asio::posix::stream_descriptor sock;
  asio::steady_timer retry;
  std::chrono::milliseconds backoff = kMinBackoff;
  std::string last_failure;  // logged once until it changes
  std::uint32_t next_id = 1;
  std::map<std::uint32_t, Reply> pending;
  std::deque<std::vector<std::uint8_t>> out;
  bool writing = false;
  std::map<std::string, std::vector<Mapping>> desired;
  std::map<std::pair<Proto, common::AddrPort>, std::uint32_t> counts;
  std::set<std::pair<MappingKey, WarningCode>> warned;

  Impl(asio::io_context& i, std::string p, Logger l)
      : io(i), path(std::move(p)), log(std::move(l)), sock(i), retry(i) {}

  bool ready() const { return phase == Phase::kReady; }

  void Connect() {
    if (phase == Phase::kStopped) return;
    int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return Retry(std::string("socket: ") + std::strerror(errno));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
    if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      int err = errno;
      ::close(fd);
      return Retry("connect " + path + ": " + std::strerror(err));
    }
    boost::system::error_code ec;
    sock.assign(fd, ec);
    if (ec) {
      ::close(fd);
      return Retry("assign: " + ec.message());
    }
    phase = Phase::kHandshake;
    last_failure.clear();
    ReadLoop();
    Handshake();
  }

  void Retry(const std::string& why) {
    if (why != last_failure) {
      log.Warn("proxygw-netd unavailable, retrying", {{"error", why}});
      last_failure = why;
    }
    retry.expires_after(backoff);
    backoff = std::min<std::chrono::milliseconds>(backoff * 2, kMaxBackoff);
    retry.async_wait([self = weak_from_this()](const boost::system::error_code& ec) {
      if (auto s = self.lock(); s && !ec) s->Connect();
    });
  }

  void Disconnect(const std::string& why) {
    if (phase == Phase::kDisconnected || phase == Phase::kStopped) return;
    bool was_ready = ready();
    boost::system::error_code ignored;
    sock.close(ignored);
    out.clear();
    writing = false;
    auto failed = std::move(pending);
    pending.clear();
    counts.clear();
    phase = Phase::kDisconnected;
    log.Warn("lost the connection to proxygw-netd; the kernel keeps forwarding", {{"reason", why}});
    last_failure = why;
    for (auto& [id, cb] : failed) cb(Status::Unavailable("netd connection lost: " + why));
    if (was_ready && listener.connection_changed) listener.connection_changed(false);
    if (listener.counts_changed) listener.counts_changed();
    backoff = kMinBackoff;
    Retry(why);
  }

  void Send(RequestBody body, Reply cb) {
    std::uint32_t id = next_id++;
    if (next_id == 0) next_id = 1;
    pending[id] = std::move(cb);
    out.push_back(EncodeRequest(Request{id, std::move(body)}));
    Write();
  }

  void Write() {
    while (!out.empty()) {
      const auto& b = out.front();
      ssize_t n = ::send(sock.native_handle(), b.data(), b.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
          if (!writing) {
            writing = true;
            sock.async_wait(asio::posix::stream_descriptor::wait_write,
                            [self = weak_from_this()](const boost::system::error_code& ec) {
                              auto s = self.lock();
                              if (!s || ec) return;
                              s->writing = false;
                              s->Write();
                            });
          }
          return;
        }
        return Disconnect(std::string("send: ") + std::strerror(errno));
      }
      out.pop_front();
    }
  }

  void ReadLoop() {
    sock.async_wait(asio::posix::stream_descriptor::wait_read,
                    [self = weak_from_this()](const boost::system::error_code& ec) {
                      auto s = self.lock();
                      if (!s || ec || s->phase == Phase::kStopped ||
                          s->phase == Phase::kDisconnected) {
                        return;
                      }
                      s->ReadAll();
                    });
  }

  void ReadAll() {
    std::vector<std::uint8_t> buf(kMaxMessageBytes + 1);
    for (;;) {
      ssize_t n = ::recv(sock.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) break;
        if (errno == EINTR) continue;
        return Disconnect(std::string("recv: ") + std::strerror(errno));
      }
      if (n == 0) return Disconnect("closed by netd");
      if (static_cast<std::size_t>(n) > kMaxMessageBytes) return Disconnect("oversize message");
      auto m = DecodeMessage(std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(n)));
      if (!m.ok()) return Disconnect("bad message from netd: " + m.status().message());
      Dispatch(std::move(m).value());
      if (phase == Phase::kDisconnected || phase == Phase::kStopped) return;
    }
    ReadLoop();
  }

  void Dispatch(NetdMessage m) {
    if (auto* push = std::get_if<FlowCountsPush>(&m.body)) {
      if (push->reset) counts.clear();
      for (const auto& c : push->counts) {
        auto key = std::make_pair(c.proto, c.destination);
        if (c.flows == 0) {
          counts.erase(key);
        } else {
          counts[key] = c.flows;
        }
      }
      if (listener.counts_changed) listener.counts_changed();
      return;
    }
    auto it = pending.find(m.id);
    if (it == pending.end()) {
      if (auto* e = std::get_if<ErrorReply>(&m.body)) {
        log.Error("proxygw-netd refused the engine", {{"code", ErrorCodeName(e->code)},
                                                       {"error", e->message}});
      }
      return;
    }
    Reply cb = std::move(it->second);
    pending.erase(it);
    cb(std::move(m));
  }

  // A reply's Status: ok, or the error netd sent (its text, and errno).
  static Status StatusOf(const Result<NetdMessage>& r) {
    if (!r.ok()) return r.status();
    if (const auto* e = std::get_if<ErrorReply>(&r->body)) {
      std::string msg = std::string("netd: ") + ErrorCodeName(e->code) + ": " + e->message;
      if (e->code == ErrorCode::kNotInstalled) return Status::NotFound(msg);
      return Status::Unavailable(msg);
    }
    return Status::Ok();
  }

  void Warn(const std::vector<Warning>& ws) {
    for (const auto& w : ws) {
      if (!warned.insert({w.key, w.code}).second) continue;
      log.Warn(WarningText(w.code), {{"mapping", w.key.ToString()}});
    }
  }

  std::vector<Mapping> AllDesired() const {
    std::vector<Mapping> all;
    for (const auto& [owner, ms] : desired) all.insert(all.end(), ms.begin(), ms.end());
    return all;
  }

  void Handshake() {
    auto self = shared_from_this();
    Send(HelloRequest{kProtocolVersion}, [self](Result<NetdMessage> r) {
      if (Status st = StatusOf(r); !st.ok()) return self->Disconnect("hello: " + st.message());
      const auto* h = std::get_if<HelloReply>(&std::get<ReplyBody>(r->body));
      if (h == nullptr) return self->Disconnect("hello: unexpected reply");
      self->log.Info("connected to proxygw-netd",
                     {{"persistent_table", h->persistent_table ? "yes" : "no"},
                      {"installed", std::to_string(h->installed)},
                      {"max_mappings", std::to_string(h->max_mappings)}});
      self->SyncAll();
    });
  }

  void SyncAll() {
    auto self = shared_from_this();
    std::vector<Mapping> all = AllDesired();
    auto fail = [self](const char* step) {
      return [self, step](Result<NetdMessage> r) {
        if (Status st = StatusOf(r); !st.ok()) self->Disconnect(std::string(step) + ": " + st.message());
      };
    };
    Send(SyncBeginRequest{static_cast<std::uint32_t>(all.size())}, fail("sync-begin"));
    for (std::size_t i = 0; i < all.size(); i += kMaxItemsPerMessage) {
      auto end = std::min(all.size(), i + kMaxItemsPerMessage);
      Send(SyncAddRequest{std::vector<Mapping>(all.begin() + static_cast<std::ptrdiff_t>(i),
                                               all.begin() + static_cast<std::ptrdiff_t>(end))},
           fail("sync-add"));
    }
    Send(SyncCommitRequest{}, [self](Result<NetdMessage> r) {
      if (Status st = StatusOf(r); !st.ok()) return self->Disconnect("sync: " + st.message());
      const auto* a = std::get_if<ApplyReply>(&std::get<ReplyBody>(r->body));
      if (a == nullptr) return self->Disconnect("sync: unexpected reply");
      self->log.Info("dataplane synchronised",
                     {{"added", std::to_string(a->added)}, {"removed", std::to_string(a->removed)},
                      {"unchanged", std::to_string(a->unchanged)}});
      self->Warn(a->warnings);
      self->Subscribe();
    });
  }

  void Stop() {
    if (phase == Phase::kStopped) return;
    retry.cancel();
    boost::system::error_code ignored;
    sock.close(ignored);
    phase = Phase::kStopped;
    auto failed = std::move(pending);
    pending.clear();
    for (auto& [id, cb] : failed) cb(Status::Unavailable("dataplane stopped"));
  }

  void Subscribe() {
    auto self = shared_from_this();
    Send(SubscribeRequest{}, [self](Result<NetdMessage> r) {
      if (Status st = StatusOf(r); !st.ok()) return self->Disconnect("subscribe: " + st.message());
      self->phase = Phase::kReady;
      self->backoff = kMinBackoff;
      if (self->listener.connection_changed) self->listener.connection_changed(true);
    });
  }
};

NetdDataplane::NetdDataplane(asio::io_context& io, std::string socket_path, Logger log)
    : impl_(std::make_shared<Impl>(io, std::move(socket_path), std::move(log))) {}

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

bool NetdDataplane::connected() const { return impl_->ready(); }

void NetdDataplane::Enable(const std::string& owner, const std::vector<Mapping>& mappings,
                           Done done) {
  if (!impl_->ready()) return done(Status::Unavailable("not connected to proxygw-netd"));
  if (mappings.size() > kMaxItemsPerMessage) {
    return done(Status::InvalidArgument("a target has more than " +
                                        std::to_string(kMaxItemsPerMessage) + " mappings"));
  }
  ChangeRequest c;
  c.enable = mappings;
  auto it = impl_->desired.find(owner);
  if (it != impl_->desired.end()) {
    for (const auto& old : it->second) {
      bool kept = std::any_of(mappings.begin(), mappings.end(),
                              [&](const Mapping& m) { return m.key == old.key; });
      if (!kept) c.disable.push_back(old.key);
    }
  }
  auto self = impl_;
  impl_->Send(std::move(c), [self, owner, mappings, done](Result<NetdMessage> r) {
    Status st = Impl::StatusOf(r);
    if (st.ok()) {
      self->desired[owner] = mappings;
      if (const auto* a = std::get_if<ApplyReply>(&std::get<ReplyBody>(r->body))) {
        self->Warn(a->warnings);
      }
    }
    done(st);
  });
}

void NetdDataplane::Disable(const std::string& owner, Done done) {
  auto it = impl_->desired.find(owner);
  if (it == impl_->desired.end()) return done(Status::Ok());
  if (!impl_->ready()) return done(Status::Unavailable("not connected to proxygw-netd"));
  ChangeRequest c;
  for (const auto& m : it->second) c.disable.push_back(m.key);
  auto self = impl_;
  impl_->Send(std::move(c), [self, owner, done](Result<NetdMessage> r) {
    Status st = Impl::StatusOf(r);
    if (st.ok()) self->desired.erase(owner);
    done(st);
  });
}

void NetdDataplane::Flush(const std::vector<MappingKey>& keys, Done done) {
  if (keys.empty()) return done(Status::Ok());
  if (!impl_->ready()) return done(Status::Unavailable("not connected to proxygw-netd"));
  FlushRequest f;
  f.keys.assign(keys.begin(), keys.begin() + static_cast<std::ptrdiff_t>(
                                                 std::min(keys.size(), kMaxItemsPerMessage)));
  impl_->Send(std::move(f), [done](Result<NetdMessage> r) { done(Impl::StatusOf(r)); });
}

void NetdDataplane::Preset(const std::string& owner, const std::vector<Mapping>& mappings) {
  impl_->desired[owner] = mappings;
}

std::uint32_t NetdDataplane::Flows(Proto proto, const common::AddrPort& dest) const {
  auto it = impl_->counts.find({proto, dest});
  return it == impl_->counts.end() ? 0 : it->second;
}

}  // namespace engine
