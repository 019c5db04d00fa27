// Server: netd's event loop and the engine's connection (see server.h); the
// requests are in server_requests.cc, the flow counts in server_flows.cc, the
// state they share in server_impl.h. Runs inside proxygw-netd only.
#include "proxygw-netd/server.h"

#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <csignal>
#include <cstring>
#include <string>
#include <vector>

#include "proxygw-netd/log.h"
#include "proxygw-netd/server_impl.h"

namespace netd {
namespace {

using common::Result;
using common::Status;
using common::UniqueFd;
using namespace ipc::netd;

// Replies and pushes waiting for the engine to read, per connection. An
// engine that stops reading is disconnected rather than buffered without end.
constexpr std::size_t kMaxQueuedMessages = 256;

}  // namespace

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

// --- Connections ---------------------------------------------------------------

Status Server::Impl::Watch(int fd, std::uint32_t events, bool modify) {
  epoll_event ev{};
  ev.events = events;
  ev.data.fd = fd;
  if (epoll_ctl(epoll.get(), modify ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &ev) != 0) {
    return Status::FromErrno("epoll_ctl", errno);
  }
  return Status::Ok();
}

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
    char sink[1];  // a datagram's unread rest is discarded with it
    if (recv(session->fd.get(), sink, sizeof sink, MSG_DONTWAIT) <= 0) break;
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
  std::vector<std::uint8_t> buf(kMaxMessageBytes);
  while (session && !stop) {
    // With MSG_TRUNC, a longer message's real length.
    ssize_t n = recv(session->fd.get(), buf.data(), buf.size(), MSG_DONTWAIT | MSG_TRUNC);
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
    if (static_cast<std::size_t>(n) > kMaxMessageBytes) {
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

// --- Server ---------------------------------------------------------------------------

Server::Server(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Server::~Server() = default;

Result<std::unique_ptr<Server>> Server::Create(const ServerOptions& options, NftTable& table,
                                               FlowTracker& tracker, HoldQueue& queue) {
  auto impl = std::make_unique<Impl>(options, table, tracker, queue);
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
  for (int fd : {options.listen_fd, tracker.event_fd(), impl->signals.get(), queue.fd()}) {
    if (Status st = impl->Watch(fd, EPOLLIN); !st.ok()) return st;
  }
  // Counts of flows that existed before netd started.
  impl->Resnapshot("start");
  // Under --no-policy, the adopted mappings keep their marks.
  for (const auto& [k, im] : table.installed()) {
    options.policy->Adopt(k, NftTable::IdOf(im.mark, table.mark_mask()));
  }
  return std::unique_ptr<Server>(new Server(std::move(impl)));
}

// The loop: wait (until input, the next flow's probe deadline or the next
// held packet's hold time); accept new peers; read and answer the engine's
// requests; write what is queued for it; read held packets (knocking); read
// conntrack events; refuse packets held too long; probe flows whose timeout
// should have run out; push changed counts.
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
      } else if (fd == s.queue.fd()) {
        s.ReadHeld();
      } else if (fd == s.tracker.event_fd()) {
        s.ReadFlows();
        s.PauseEvents();
      } else if (s.session && fd == s.session->fd.get()) {
        if (ev & EPOLLOUT) s.FlushOut(*s.session);
        if (s.session && (ev & (EPOLLIN | EPOLLHUP | EPOLLERR))) s.ReadRequests();
      }
    }
    s.ResumeEventsIfDue();
    s.ExpireHeld();
    s.ProbeDue();
    s.PushCounts();
  }
  // Deliver the last reply (a Shutdown's) before going.
  for (int tries = 0; tries < 100 && s.session && !s.session->out.empty(); ++tries) {
    s.FlushOut(*s.session);
    if (s.session && !s.session->out.empty()) usleep(10000);
  }
  return s.exit;
}

}  // namespace netd
