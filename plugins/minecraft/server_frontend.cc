// minecraft:server: the Java Edition protocol spoken while the target is cold
// (see the header). Each connection is a small state machine over one
// buffer:
//
//   handshake ──status──► status request ─► status JSON ─► ping ─► pong, close
//       │      ──login───► login start ─► warm (if the name may) ─► Disconnect, close
//       └─ 0xFE (legacy ping) ─► legacy kick packet, close
//
// Bounds: every frame's length is checked (VarInt form and max_packet_bytes)
// before its bytes are awaited, one deadline covers the whole exchange, the
// shared listener caps the connections, and anything malformed closes that
// connection alone (logged at DEBUG). A status ping never warms.
#include "plugins/minecraft/server_frontend.h"

#include <array>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/write.hpp>
#include <utility>

#include "plugins/minecraft/mc_codec.h"
#include "plugins/minecraft/server_options.h"
#include "plugins/minecraft/status_json.h"
#include "plugins/net/serving_frontend.h"
#include "plugins/net/tcp_listener.h"

namespace plugins::minecraft {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;
using boost::system::error_code;
using common::Status;

// What every connection of one Start..Stop needs.
class Server {
 public:
  Server(std::shared_ptr<const ServerOptions> options, const ServerLimits& limits,
         const engine::Logger& log, std::function<void()> warm, TargetStateFn target_state)
      : options_(std::move(options)),
        limits_(limits),
        log_(log),
        warm_(std::move(warm)),
        target_state_(std::move(target_state)) {}

  static common::Result<std::shared_ptr<Server>> Open(
      asio::io_context& io, const common::AddrPort& at, bool dual_stack,
      std::shared_ptr<const ServerOptions> options, const ServerLimits& limits,
      const engine::Logger& log, std::function<void()> warm, TargetStateFn target_state);

  void Shutdown() { tcp_->Shutdown(); }
  bool active() const { return tcp_->active(); }
  net::TcpListener& tcp() { return *tcp_; }
  const ServerOptions& options() const { return *options_; }
  const ServerLimits& limits() const { return limits_; }
  const engine::Logger& log() const { return log_; }
  std::string TargetState() const { return target_state_ ? target_state_() : std::string(); }
  void Warm() {
    if (active() && warm_) warm_();
  }

 private:
  std::shared_ptr<const ServerOptions> options_;
  ServerLimits limits_;
  engine::Logger log_;
  std::function<void()> warm_;
  TargetStateFn target_state_;
  std::shared_ptr<net::TcpListener> tcp_;
};

class Connection : public std::enable_shared_from_this<Connection>, public net::Abortable {
 public:
  Connection(std::shared_ptr<Server> server, tcp::socket socket)
      : server_(std::move(server)), socket_(std::move(socket)), deadline_(socket_.get_executor()) {
    server_->tcp().Add(this);
  }
  ~Connection() { server_->tcp().Remove(this); }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void Run();
  void Abort() override {
    error_code ignored;
    socket_.close(ignored);
    deadline_.cancel();
  }

 private:
  enum class Phase { kHandshake, kStatus, kPinged, kLogin, kDone };

  void Read();
  void OnRead(error_code ec, std::size_t n);
  // Handles what the buffer holds; false when the connection is finished.
  bool Consume();
  bool OnPacket(std::string_view payload);
  bool OnHandshake(std::string_view payload);
  bool OnStatusPacket(std::string_view payload);
  bool OnLoginStart(std::string_view payload);
  std::string StatusFor(std::int32_t protocol) const;
  // Queues `bytes`; with `last`, closes after it has been sent.
  void Send(std::string bytes, bool last);
  void OnWritten(error_code ec);
  void Linger();
  void Drop(std::string_view why);
  std::string Peer() const;

  std::shared_ptr<Server> server_;
  tcp::socket socket_;
  asio::steady_timer deadline_;
  std::string buffer_;
  std::array<char, 2048> chunk_{};
  std::string out_;
  bool closing_ = false;  // the last answer is queued
  bool writing_ = false;
  Phase phase_ = Phase::kHandshake;
  std::int32_t client_protocol_ = 0;
};

common::Result<std::shared_ptr<Server>> Server::Open(
    asio::io_context& io, const common::AddrPort& at, bool dual_stack,
    std::shared_ptr<const ServerOptions> options, const ServerLimits& limits,
    const engine::Logger& log, std::function<void()> warm, TargetStateFn target_state) {
  auto server = std::make_shared<Server>(std::move(options), limits, log, std::move(warm),
                                         std::move(target_state));
  net::TcpListenerLimits tcp_limits{limits.max_connections, limits.accept_retry};
  std::weak_ptr<Server> weak = server;
  auto listener =
      net::TcpListener::Open(io, at, dual_stack, tcp_limits, log, [weak](tcp::socket s) {
        if (auto self = weak.lock()) std::make_shared<Connection>(self, std::move(s))->Run();
      });
  if (!listener.ok()) return listener.status();
  server->tcp_ = std::move(*listener);
  server->tcp_->Run();
  return server;
}

void Connection::Run() {
  // One deadline for the whole exchange: a client sending a byte at a time
  // cannot hold the connection past it either.
  deadline_.expires_after(server_->limits().read_timeout + server_->limits().linger_timeout);
  deadline_.async_wait([self = shared_from_this()](error_code ec) {
    if (ec) return;
    if (self->server_->log().DebugEnabled()) {
      self->server_->log().Debug("client too slow; closed", {{"client", self->Peer()}});
    }
    error_code ignored;
    self->socket_.close(ignored);
  });
  Read();
}

void Connection::Read() {
  socket_.async_read_some(
      asio::buffer(chunk_),
      [self = shared_from_this()](error_code ec, std::size_t n) { self->OnRead(ec, n); });
}

void Connection::OnRead(error_code ec, std::size_t n) {
  if (!server_->active()) return;
  if (ec) return Drop(ec == asio::error::eof ? "client closed" : ec.message());
  buffer_.append(chunk_.data(), n);
  if (!Consume()) return;
  Read();
}

bool Connection::Consume() {
  if (phase_ == Phase::kHandshake && IsLegacyPing(buffer_)) {
    const ServerOptions& o = server_->options();
    LegacyInfo info;
    std::string state = server_->TargetState();
    info.motd = state == "warming" || state == "active" ? o.starting_motd : o.motd;
    info.version_name = o.version_name;
    info.max = o.max_players;
    if (o.protocol) info.protocol = *o.protocol;
    Send(LegacyKick(buffer_, info), /*last=*/true);
    return false;
  }
  while (phase_ != Phase::kDone) {
    Frame f = NextFrame(buffer_, server_->limits().max_packet_bytes);
    if (f.state == FrameState::kNeedMore) return true;
    if (f.state == FrameState::kError) {
      Drop(f.error);
      return false;
    }
    std::string payload(f.payload);
    buffer_.erase(0, f.consumed);
    if (!OnPacket(payload)) return false;
  }
  return false;
}

bool Connection::OnPacket(std::string_view payload) {
  switch (phase_) {
    case Phase::kHandshake:
      return OnHandshake(payload);
    case Phase::kStatus:
    case Phase::kPinged:
      return OnStatusPacket(payload);
    case Phase::kLogin:
      return OnLoginStart(payload);
    case Phase::kDone:
      break;
  }
  return false;
}

bool Connection::OnHandshake(std::string_view payload) {
  auto h = ParseHandshake(payload);
  if (!h.ok()) {
    Drop(h.status().message());
    return false;
  }
  client_protocol_ = h->protocol;
  // A transfer (1.20.5+) is a login that another server sent here.
  phase_ = h->next == NextState::kStatus ? Phase::kStatus : Phase::kLogin;
  return true;
}

bool Connection::OnStatusPacket(std::string_view payload) {
  if (phase_ == Phase::kStatus && IsStatusRequest(payload)) {
    phase_ = Phase::kPinged;  // at most one status per connection
    Send(StatusResponse(StatusFor(client_protocol_)), /*last=*/false);
    return true;
  }
  if (auto ping = ParsePing(payload)) {
    // The client measures its round trip and closes; so do we after the pong.
    Send(Pong(*ping), /*last=*/true);
    phase_ = Phase::kDone;
    return false;
  }
  Drop("unexpected packet in the status state");
  return false;
}

std::string Connection::StatusFor(std::int32_t protocol) const {
  const ServerOptions& o = server_->options();
  const std::string state = server_->TargetState();
  StatusInfo info;
  info.version_name = o.version_name;
  info.protocol = o.protocol.value_or(protocol);
  info.max_players = o.max_players;
  info.description = state == "warming" || state == "active" ? o.starting_motd : o.motd;
  info.favicon = o.favicon;
  return StatusJson(info);
}

bool Connection::OnLoginStart(std::string_view payload) {
  auto name = ParseLoginStart(payload);
  if (!name.ok()) {
    Drop(name.status().message());
    return false;
  }
  const ServerOptions& o = server_->options();
  phase_ = Phase::kDone;
  if (!MayWake(o, *name)) {
    server_->log().Info("player may not wake the target", {{"player", *name}, {"client", Peer()}});
    Send(LoginDisconnect(TextComponent(o.not_allowed)), /*last=*/true);
    return false;
  }
  const std::string state = server_->TargetState();
  if (state == "inactive" || state.empty()) {
    server_->log().Info("player wakes the target", {{"player", *name}, {"client", Peer()}});
  } else {
    server_->log().Debug("player joins while the target starts", {{"player", *name}});
  }
  server_->Warm();
  // Warm may have stopped this frontend (it calls into the engine).
  if (!server_->active()) return false;
  Send(LoginDisconnect(TextComponent(o.login)), /*last=*/true);
  return false;
}

void Connection::Send(std::string bytes, bool last) {
  out_ += bytes;
  if (last) closing_ = true;
  if (writing_) return;
  writing_ = true;
  auto data = std::make_shared<std::string>(std::move(out_));
  out_.clear();
  asio::async_write(socket_, asio::buffer(*data),
                    [self = shared_from_this(), data](error_code ec, std::size_t) {
                      self->writing_ = false;
                      self->OnWritten(ec);
                    });
}

void Connection::OnWritten(error_code ec) {
  if (ec || !server_->active()) return;
  if (!out_.empty()) return Send(std::string(), closing_);
  if (!closing_) return;
  // Our FIN, then read until the client's: closing with unread bytes would
  // reset the connection and could destroy the answer before it is read.
  socket_.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) return;
  deadline_.expires_after(server_->limits().linger_timeout);
  deadline_.async_wait([self = shared_from_this()](error_code e) {
    if (e) return;
    error_code ignored;
    self->socket_.close(ignored);
  });
  Linger();
}

void Connection::Linger() {
  socket_.async_read_some(asio::buffer(chunk_),
                          [self = shared_from_this()](error_code ec, std::size_t) {
                            if (ec || !self->server_->active()) {
                              self->deadline_.cancel();
                              return;
                            }
                            self->Linger();
                          });
}

void Connection::Drop(std::string_view why) {
  if (server_->log().DebugEnabled()) {
    server_->log().Debug("connection closed", {{"client", Peer()}, {"why", std::string(why)}});
  }
  deadline_.cancel();
  error_code ignored;
  socket_.close(ignored);
}

std::string Connection::Peer() const {
  error_code ec;
  tcp::endpoint peer = socket_.remote_endpoint(ec);
  return ec ? std::string("?") : net::EndpointText(peer);
}

class ServerFrontend final : public net::ServingFrontend<Server> {
 public:
  ServerFrontend(const engine::FrontendContext& ctx, ServerOptions options,
                 TargetStateFn target_state, const ServerLimits& limits)
      : ServingFrontend(ctx, "Minecraft"),
        options_(std::make_shared<const ServerOptions>(std::move(options))),
        limits_(limits),
        // A login that may wake the target is a knock (metrics), then a warm.
        warm_([knock = ctx.knock, warm = ctx.warm] {
          if (knock) knock();
          if (warm) warm();
        }),
        target_state_(std::move(target_state)) {}
  ~ServerFrontend() override { Close(); }

 private:
  common::Result<std::shared_ptr<Server>> Open() override {
    return Server::Open(io_, listen_, dual_stack_, options_, limits_, log_, warm_, target_state_);
  }

  std::shared_ptr<const ServerOptions> options_;
  ServerLimits limits_;
  std::function<void()> warm_;
  TargetStateFn target_state_;
};

}  // namespace

std::unique_ptr<engine::FrontendHandler> NewServerFrontend(const engine::FrontendContext& ctx,
                                                           config::ErrorSink& errors,
                                                           TargetStateFn target_state,
                                                           const ServerLimits& limits) {
  auto options = ReadServerOptions(ctx.config, errors);
  if (!options) return nullptr;
  return std::make_unique<ServerFrontend>(ctx, std::move(*options), std::move(target_state),
                                          limits);
}

}  // namespace plugins::minecraft
