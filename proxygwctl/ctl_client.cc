#include "proxygwctl/ctl_client.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cerrno>
#include <cstring>

#include "common/ipc/ctl_stream.h"
#include "common/unique_fd.h"

namespace proxygwctl {
namespace {

namespace wire = ipc::ctl;
using common::Result;
using common::Status;
using Clock = std::chrono::steady_clock;

std::chrono::milliseconds Left(Clock::time_point deadline) {
  auto left = std::chrono::ceil<std::chrono::milliseconds>(deadline - Clock::now());
  return left.count() > 0 ? left : std::chrono::milliseconds(0);
}

std::string Seconds(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

// One connection with its deadline.
class Session {
 public:
  Session(const CallOptions& o)
      : o_(o),
        where_("ctl socket \"" + o.socket + "\""),
        deadline_(Clock::now() + o.timeout),
        decoder_(o.codec, wire::kMaxResponseBytes) {}

  Status Connect();
  Status Send(const std::string& bytes);
  Result<wire::Body> Receive();

 private:
  Status TimedOut(const char* waiting_for) const {
    return Status::FromErrno(where_ + ": no answer within " + Seconds(o_.timeout) + " (" +
                                 waiting_for + "; see --timeout)",
                             ETIMEDOUT);
  }
  // Waits until fd_ is ready for `events`; false at the deadline.
  Result<bool> Wait(short events);

  const CallOptions& o_;
  std::string where_;
  Clock::time_point deadline_;
  common::UniqueFd fd_;
  wire::StreamDecoder decoder_;
};

Status Session::Connect() {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (o_.socket.empty() || o_.socket.size() >= sizeof addr.sun_path) {
    return Status::InvalidArgument(where_ + ": not a usable socket path (at most " +
                                   std::to_string(sizeof addr.sun_path - 1) + " bytes)");
  }
  std::memcpy(addr.sun_path, o_.socket.data(), o_.socket.size());
  fd_.Reset(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd_.valid()) return Status::FromErrno("socket", errno);
  // A blocking connect waits for room in a full backlog, up to SO_SNDTIMEO;
  // it then fails with EAGAIN.
  auto left = Left(deadline_);
  timeval tv{static_cast<time_t>(left.count() / 1000),
             static_cast<suseconds_t>(left.count() % 1000 * 1000)};
  if (tv.tv_sec == 0 && tv.tv_usec == 0) tv.tv_usec = 1000;
  ::setsockopt(fd_.get(), SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  int rc;
  do {
    rc = ::connect(fd_.get(), reinterpret_cast<const sockaddr*>(&addr), sizeof addr);
  } while (rc != 0 && errno == EINTR && Left(deadline_).count() > 0);
  if (rc != 0) {
    const int err = errno;
    switch (err) {
      case ENOENT:
      case ECONNREFUSED:
        return Status::Unavailable(where_ + ": the engine is not running (connect: " +
                                   std::strerror(err) + ")");
      case EACCES:
      case EPERM:
        return Status::PermissionDenied(
            where_ + ": permission denied (run as a user the socket's mode lets in, such as root "
                     "or a member of its group)");
      case EAGAIN:
      case EINTR:
        return TimedOut("the engine does not accept connections");
      default:
        return Status::FromErrno(where_ + ": connect", err);
    }
  }
  if (::fcntl(fd_.get(), F_SETFL, ::fcntl(fd_.get(), F_GETFL) | O_NONBLOCK) != 0) {
    return Status::FromErrno("fcntl", errno);
  }
  return Status::Ok();
}

Result<bool> Session::Wait(short events) {
  for (;;) {
    auto left = Left(deadline_);
    if (left.count() == 0) return false;
    pollfd p{fd_.get(), events, 0};
    int n = ::poll(&p, 1, static_cast<int>(std::min<long long>(left.count(), 1 << 30)));
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return Status::FromErrno("poll", errno);
  }
}

Status Session::Send(const std::string& bytes) {
  std::size_t sent = 0;
  while (sent < bytes.size()) {
    ssize_t n = ::send(fd_.get(), bytes.data() + sent, bytes.size() - sent, MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<std::size_t>(n);
      continue;
    }
    if (errno == EINTR) continue;
    if (errno == EAGAIN) {
      auto ready = Wait(POLLOUT);
      if (!ready.ok()) return ready.status();
      if (!*ready) return TimedOut("sending the request");
      continue;
    }
    if (errno == EPIPE || errno == ECONNRESET) {
      return Status::ProtocolError(where_ + ": the engine closed the connection before answering");
    }
    return Status::FromErrno(where_ + ": send", errno);
  }
  return Status::Ok();
}

Result<wire::Body> Session::Receive() {
  char buf[65536];
  for (;;) {
    for (;;) {
      auto next = decoder_.Next();
      if (!next.ok()) {
        return Status::ProtocolError(where_ + ": cannot read the engine's answer: " +
                                     next.status().message());
      }
      if (!next->has_value()) break;
      const wire::Packet& p = **next;
      const bool error = p.method == static_cast<std::uint16_t>(wire::Method::kErrorResponse);
      if (p.id != 1 && !(p.id == 0 && error)) continue;
      if (!p.body.ok()) {
        return Status::ProtocolError(where_ + ": invalid answer from the engine: " +
                                     p.body.status().message());
      }
      if (std::holds_alternative<std::monostate>(*p.body)) {
        return Status::ProtocolError(where_ + ": unexpected answer from the engine: method " +
                                     std::to_string(p.method));
      }
      return *p.body;
    }
    ssize_t n = ::recv(fd_.get(), buf, sizeof buf, 0);
    if (n > 0) {
      decoder_.Feed(std::string_view(buf, static_cast<std::size_t>(n)));
      continue;
    }
    if (n == 0 || errno == ECONNRESET) {
      return Status::ProtocolError(where_ + ": the engine closed the connection before answering");
    }
    if (errno == EINTR) continue;
    if (errno != EAGAIN) return Status::FromErrno(where_ + ": recv", errno);
    auto ready = Wait(POLLIN);
    if (!ready.ok()) return ready.status();
    if (!*ready) return TimedOut("waiting for the answer");
  }
}

}  // namespace

Result<wire::Body> Call(const CallOptions& options, const wire::Body& request) {
  Session s(options);
  if (Status st = s.Connect(); !st.ok()) return st;
  if (Status st = s.Send(wire::EncodePacket(options.codec, 1, request)); !st.ok()) return st;
  return s.Receive();
}

}  // namespace proxygwctl
