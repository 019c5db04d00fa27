#include "plugins/ctl/ctl_server.h"

#include <sys/socket.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cstdio>
#include <optional>
#include <unordered_map>

#include "common/cloexec.h"
#include "plugins/ctl/peer_policy.h"
#include "plugins/ctl/socket_file.h"

namespace ctl_plugin {

using stream_protocol = boost::asio::local::stream_protocol;

struct Server::State : std::enable_shared_from_this<State> {
  State(boost::asio::io_context& io, engine::Control& control, engine::Logger log,
        const CtlConfig& config, ServerLimits limits)
      : acceptor(io),
        retry(io),
        control(control),
        log(std::move(log)),
        config(config),
        limits(limits) {}

  void Accept();
  void OnAccept(const boost::system::error_code& ec, stream_protocol::socket socket);
  void Serve(stream_protocol::socket socket);
  // Logs an accept problem: the first of a kind, then at most once a minute.
  void LogTrouble(const std::string& what, const std::string& error);
  void Close();

  stream_protocol::acceptor acceptor;
  boost::asio::steady_timer retry;
  engine::Control& control;
  engine::Logger log;
  CtlConfig config;
  ServerLimits limits;
  std::optional<SocketFileId> file;  // what Close removes: none for an inherited socket
  std::unordered_map<std::uint64_t, std::shared_ptr<Connection>> connections;  // by number
  std::uint64_t accepted = 0;
  bool troubled = false;  // the last accept failed or was refused
  std::string last_trouble;
  std::chrono::steady_clock::time_point last_logged;
  bool closed = false;
};

void Server::State::Accept() {
  acceptor.async_accept([self = shared_from_this()](const boost::system::error_code& ec,
                                                    stream_protocol::socket socket) {
    self->OnAccept(ec, std::move(socket));
  });
}

void Server::State::LogTrouble(const std::string& what, const std::string& error) {
  const auto now = std::chrono::steady_clock::now();
  if (troubled && what == last_trouble && now - last_logged < std::chrono::minutes(1)) return;
  troubled = true;
  last_trouble = what;
  last_logged = now;
  log.Warn(what, {{"error", error}});
}

void Server::State::OnAccept(const boost::system::error_code& ec, stream_protocol::socket socket) {
  if (closed) return;
  if (ec) {
    if (ec == boost::asio::error::operation_aborted) return;
    // EMFILE, ENFILE, ENOBUFS...: the pending client stays in the backlog;
    // try again after a pause rather than spin (the original crashed: B3).
    LogTrouble("ctl socket: accept failed; retrying in " +
                   std::to_string(limits.accept_retry.count()) + "ms",
               ec.message());
    retry.expires_after(limits.accept_retry);
    retry.async_wait([self = shared_from_this()](const boost::system::error_code& wec) {
      if (!wec && !self->closed) self->Accept();
    });
    return;
  }
  if (connections.size() >= limits.max_connections) {
    LogTrouble("ctl socket: too many connections; refusing one",
               std::to_string(connections.size()) + " open");
    boost::system::error_code ignored;
    socket.close(ignored);
  } else {
    if (troubled) {
      log.Info("ctl socket: accepting connections again");
      troubled = false;
    }
    Serve(std::move(socket));
  }
  Accept();
}

void Server::State::Serve(stream_protocol::socket socket) {
  (void)common::SetCloexec(socket.native_handle());  // Asio's accept() sets no flag
  const std::uint64_t id = ++accepted;
  engine::Logger conn_log = log.With({{"conn", std::to_string(id)}});
  common::Result<Peer> peer = PeerOf(socket.native_handle());
  common::Status refusal = peer.status();
  if (peer.ok()) {
    conn_log = conn_log.With(
        {{"peer_pid", std::to_string(peer->pid)}, {"peer_uid", std::to_string(peer->uid)}});
    refusal = CheckPeer(*peer, config, ::geteuid(), ::getegid());
  }
  // The connection reports its end to erase itself; the server may be gone
  // by then.
  auto on_closed = [weak = weak_from_this(), id] {
    if (auto self = weak.lock()) self->connections.erase(id);
  };
  auto conn =
      std::make_shared<Connection>(std::move(socket), config.codec, control, std::move(conn_log),
                                   limits.connection, std::move(on_closed), std::move(refusal));
  connections.emplace(id, conn);
  conn->Start();
}

void Server::State::Close() {
  if (closed) return;
  closed = true;
  boost::system::error_code ignored;
  acceptor.close(ignored);
  retry.cancel();
  for (auto& [id, conn] : connections) conn->Close();
  connections.clear();
  if (file) {
    common::Status st = RemoveSocketFile(config.socket, *file);
    if (!st.ok()) log.Warn("ctl socket: not removed", {{"error", st.message()}});
  }
  log.Info("ctl socket closed", {{"socket", config.socket}});
}

common::Result<std::unique_ptr<Server>> Server::Start(boost::asio::io_context& io,
                                                      engine::Control& control, engine::Logger log,
                                                      const CtlConfig& config, ServerLimits limits,
                                                      common::UniqueFd inherited) {
  auto state = std::make_shared<State>(io, control, std::move(log), config, limits);
  common::UniqueFd fd = std::move(inherited);
  if (!fd.valid()) {
    auto listening = ListenAt(config.socket, config.mode, SOMAXCONN);
    if (!listening.ok()) return listening.status();
    fd = std::move(listening->fd);
    state->file = listening->file;
  }
  boost::system::error_code ec;
  state->acceptor.assign(stream_protocol(), fd.get(), ec);
  if (ec) {
    // The fd is still ours to close.
    if (state->file) RemoveSocketFile(config.socket, *state->file);
    return common::Status::IoError("ctl socket \"" + config.socket + "\": " + ec.message());
  }
  fd.Release();  // the acceptor owns it now
  state->log.Info(state->file ? "ctl socket listening" : "ctl socket adopted",
                  {{"socket", config.socket}, {"codec", ipc::ctl::CodecName(config.codec)}});
  if (config.mode & 0002) {
    char mode[16];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(config.mode));
    state->log.Warn(
        "ctl socket is world-writable: every local user can connect, and only "
        "plugins.ctl.allow_users/allow_groups keep them from sending requests",
        {{"mode", mode}});
  }
  state->Accept();
  return std::unique_ptr<Server>(new Server(std::move(state)));
}

Server::Server(std::shared_ptr<State> state) : state_(std::move(state)) {}

Server::~Server() { Close(); }

void Server::Close() { state_->Close(); }

std::size_t Server::connection_count() const { return state_->connections.size(); }

}  // namespace ctl_plugin
