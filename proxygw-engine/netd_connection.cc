#include "proxygw-engine/netd_connection.h"

#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <optional>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

namespace engine {

namespace asio = boost::asio;
using common::Result;
using common::Status;
using namespace ipc::netd;
using Clock = std::chrono::steady_clock;

// Shared with the socket's and the watchdog's handlers, which hold it weakly.
struct NetdConnection::State : std::enable_shared_from_this<State> {
  struct Pending {
    Reply reply;
    Op op;
    Clock::time_point sent;
  };

  State(asio::io_context& io, std::chrono::milliseconds t, Handlers h)
      : sock(io), watchdog(io), timeout(t), handlers(std::move(h)) {}

  asio::posix::stream_descriptor sock;
  asio::steady_timer watchdog;  // the earliest deadline of what is awaited
  std::chrono::milliseconds timeout;
  Handlers handlers;
  bool open = true;
  std::uint32_t next_id = 1;
  std::map<std::uint32_t, Pending> pending;
  std::optional<std::pair<std::string, Clock::time_point>> awaited_push;
  std::deque<std::vector<std::uint8_t>> out;
  bool writing = false;

  void Send(RequestBody body, Reply reply) {
    if (!open) return reply(Status::Unavailable("netd connection lost"));
    std::uint32_t id = next_id++;
    if (next_id == 0) next_id = 1;
    Request r{id, std::move(body)};
    pending[id] = Pending{std::move(reply), r.op(), Clock::now()};
    out.push_back(EncodeRequest(r));
    auto self = shared_from_this();  // Write may end it
    Write();
    Watch();
  }

  // Ends the connection: `ended` (unless closed by the owner), then the
  // pending replies fail.
  void End(const std::string& why, bool tell) {
    if (!open) return;
    auto self = shared_from_this();
    open = false;
    boost::system::error_code ignored;
    sock.close(ignored);
    watchdog.cancel();
    out.clear();
    auto failed = std::move(pending);
    pending.clear();
    if (tell && handlers.ended) handlers.ended(why);
    for (auto& [id, p] : failed) p.reply(Status::Unavailable("netd connection lost: " + why));
  }

  // Sets the watchdog to the earliest deadline: the oldest pending request's,
  // or the awaited push's.
  void Watch() {
    if (!open) return;
    std::optional<Clock::time_point> since;
    if (awaited_push) since = awaited_push->second;
    for (const auto& [id, p] : pending) {
      if (!since || p.sent < *since) since = p.sent;
    }
    if (!since) {
      watchdog.cancel();
      return;
    }
    watchdog.expires_at(*since + timeout);
    watchdog.async_wait([w = weak_from_this()](const boost::system::error_code& ec) {
      if (auto s = w.lock(); s && !ec) s->Overdue();
    });
  }

  void Overdue() {
    auto now = Clock::now();
    auto within = " within " + std::to_string(timeout.count()) + " ms";
    if (awaited_push && now - awaited_push->second >= timeout) {
      return End("netd did not send " + awaited_push->first + within, true);
    }
    for (const auto& [id, p] : pending) {
      if (now - p.sent < timeout) continue;
      return End(std::string("netd did not answer ") + OpName(p.op) + within, true);
    }
    Watch();
  }

  void Write() {
    while (open && !out.empty()) {
      const auto& b = out.front();
      ssize_t n = ::send(sock.native_handle(), b.data(), b.size(), MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n >= 0) {
        out.pop_front();
        continue;
      }
      if (errno == EAGAIN || errno == EWOULDBLOCK) return WaitWritable();
      // netd closed the connection: what it said before (a refusal) is
      // the reason, when it said something.
      std::string why = std::string("send: ") + std::strerror(errno);
      if (ReadAll()) End(why, true);
      return;
    }
  }

  void WaitWritable() {
    if (writing) return;
    writing = true;
    sock.async_wait(asio::posix::stream_descriptor::wait_write,
                    [w = weak_from_this()](const boost::system::error_code& ec) {
                      auto s = w.lock();
                      if (!s || ec) return;
                      s->writing = false;
                      s->Write();
                    });
  }

  void WaitReadable() {
    sock.async_wait(asio::posix::stream_descriptor::wait_read,
                    [w = weak_from_this()](const boost::system::error_code& ec) {
                      auto s = w.lock();
                      if (!s || ec || !s->open) return;
                      if (s->ReadAll()) s->WaitReadable();
                    });
  }

  // Reads and dispatches what netd sent. False when the connection ended.
  bool ReadAll() {
    auto self = shared_from_this();
    std::vector<std::uint8_t> buf(kMaxMessageBytes + 1);
    bool reset = false;
    while (open) {
      ssize_t n = ::recv(sock.native_handle(), buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
      if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK) return true;
        if (errno == EINTR) continue;
        // A peer that closes with our requests unread resets the connection,
        // and the reset is reported before what it sent first (its refusal):
        // read on once to find it.
        if (errno == ECONNRESET && !reset) {
          reset = true;
          continue;
        }
        End(std::string("recv: ") + std::strerror(errno), true);
        break;
      }
      if (n == 0) {
        End(reset ? "connection reset by netd" : "closed by netd", true);
        break;
      }
      if (static_cast<std::size_t>(n) > kMaxMessageBytes) {
        End("oversize message", true);
        break;
      }
      auto m =
          DecodeMessage(std::span<const std::uint8_t>(buf.data(), static_cast<std::size_t>(n)));
      if (!m.ok()) {
        End("bad message from netd: " + m.status().message(), true);
        break;
      }
      Dispatch(std::move(m).value());
    }
    return false;
  }

  void Dispatch(NetdMessage m) {
    if (const auto* knock = std::get_if<KnockPush>(&m.body)) {
      if (handlers.knock) handlers.knock(*knock);
      return;
    }
    if (const auto* push = std::get_if<FlowCountsPush>(&m.body)) {
      awaited_push.reset();
      Watch();
      if (handlers.push) handlers.push(*push);
      return;
    }
    if (const auto* e = std::get_if<ErrorReply>(&m.body); e != nullptr && m.id == 0) {
      // A refusal of the connection (busy, wrong uid) or of a request whose
      // id netd could not read: netd closes the connection after it.
      return End(std::string("refused by netd: ") + ErrorCodeName(e->code) + ": " + e->message,
                 true);
    }
    auto it = pending.find(m.id);
    if (it == pending.end()) return;  // not ours: ignored
    Reply reply = std::move(it->second.reply);
    pending.erase(it);
    Watch();
    reply(std::move(m));
  }
};

NetdConnection::NetdConnection(std::shared_ptr<State> s) : s_(std::move(s)) {}

NetdConnection::~NetdConnection() { Close("connection closed"); }

Result<std::unique_ptr<NetdConnection>> NetdConnection::Open(asio::io_context& io,
                                                             const std::string& path,
                                                             std::chrono::milliseconds timeout,
                                                             Handlers handlers) {
  int fd = ::socket(AF_UNIX, SOCK_SEQPACKET | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
  if (fd < 0) return Status::Unavailable(std::string("socket: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::strncpy(addr.sun_path, path.c_str(), sizeof addr.sun_path - 1);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    int err = errno;
    ::close(fd);
    return Status::Unavailable("connect " + path + ": " + std::strerror(err));
  }
  auto s = std::make_shared<State>(io, timeout, std::move(handlers));
  boost::system::error_code ec;
  s->sock.assign(fd, ec);
  if (ec) {
    ::close(fd);
    return Status::Unavailable("assign: " + ec.message());
  }
  s->WaitReadable();
  return std::unique_ptr<NetdConnection>(new NetdConnection(std::move(s)));
}

void NetdConnection::Send(RequestBody body, Reply reply) {
  s_->Send(std::move(body), std::move(reply));
}

void NetdConnection::AwaitPush(std::string what) {
  s_->awaited_push.emplace(std::move(what), Clock::now());
  s_->Watch();
}

void NetdConnection::Close(const std::string& why) { s_->End(why, false); }

}  // namespace engine
