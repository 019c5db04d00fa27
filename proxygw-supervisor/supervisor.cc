#include "proxygw-supervisor/supervisor.h"

#include <fcntl.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/stat.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cap-ng.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "common/unique_fd.h"
#include "plugins/ctl/inherited_socket.h"
#include "proxygw-engine/config/loader.h"
#include "proxygw-engine/config/netd_policy.h"
#include "proxygw-supervisor/runtime_paths.h"

namespace supervisor {
namespace {

using Clock = std::chrono::steady_clock;
using common::UniqueFd;

constexpr auto kReadyTimeout = std::chrono::seconds(30);
constexpr auto kNetdStopTimeout = std::chrono::seconds(10);
constexpr auto kMinBackoff = std::chrono::seconds(1);
constexpr auto kMaxBackoff = std::chrono::seconds(30);
constexpr auto kHealthyAfter = std::chrono::seconds(30);

void Log(const char* level, const std::string& msg, const std::string& fields = "") {
  std::string line = std::string("proxygw: level=") + level + " msg=\"" + msg + "\"";
  if (!fields.empty()) line += " " + fields;
  line += "\n";
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

// One line, then exit 1: a start-up step failed.
[[noreturn]] void Die(const std::string& msg) {
  std::fprintf(stderr, "proxygw: %s\n", msg.c_str());
  std::exit(1);
}

User LookUp(const std::string& name, const char* field) {
  errno = 0;
  passwd* pw = getpwnam(name.c_str());
  if (pw == nullptr) {
    Die(std::string("no user \"") + name + "\" (" + field + "); create it, e.g. useradd --system "
        "--no-create-home --shell /usr/sbin/nologin " + name + " (make run does)");
  }
  if (pw->pw_uid == 0) Die(std::string(field) + " \"" + name + "\" is root; it must not be");
  return {name, pw->pw_uid, pw->pw_gid};
}

// Makes `fd` descriptor 3 of a child about to exec, inherited by the program.
bool AsFd3(int fd) { return fd == 3 ? fcntl(3, F_SETFD, 0) == 0 : dup2(fd, 3) == 3; }

// netd's policy (proxygw-netd/policy.h) as a sealed, root-owned memory file:
// netd reads it as /proc/self/fd/4, nothing lies on the file system.
UniqueFd PolicyFile(const std::string& text) {
  UniqueFd fd(memfd_create("proxygw-netd.policy", MFD_CLOEXEC | MFD_ALLOW_SEALING));
  if (!fd.valid()) Die(std::string("memfd_create: ") + std::strerror(errno));
  if (fchmod(fd.get(), 0444) != 0 ||
      write(fd.get(), text.data(), text.size()) != static_cast<ssize_t>(text.size()) ||
      fcntl(fd.get(), F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_GROW | F_SEAL_SHRINK | F_SEAL_SEAL) != 0) {
    Die(std::string("write netd's policy: ") + std::strerror(errno));
  }
  return fd;
}

// The readiness channel: systemd's notify protocol on an abstract socket that
// only this network namespace sees; SO_PASSCRED tells which child spoke.
UniqueFd NotifySocket(std::string* address) {
  UniqueFd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd.valid()) Die(std::string("notify socket: ") + std::strerror(errno));
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string name = "proxygw-notify-" + std::to_string(getpid());
  std::memcpy(addr.sun_path + 1, name.data(), name.size());
  socklen_t len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + name.size());
  if (bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), len) != 0) {
    Die(std::string("bind notify socket: ") + std::strerror(errno));
  }
  int one = 1;
  setsockopt(fd.get(), SOL_SOCKET, SO_PASSCRED, &one, sizeof one);
  *address = "@" + name;
  return fd;
}

struct Child {
  explicit Child(const char* n) : name(n) {}
  const char* name;
  pid_t pid = 0;
  bool ready = false;
  Clock::time_point started;
  std::chrono::seconds backoff = kMinBackoff;
  std::optional<Clock::time_point> restart_at;
  bool replacing = false;  // stopped on purpose, to start again at once
};

std::string ExitText(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by ") + strsignal(WTERMSIG(status));
  return "ended";
}

class Supervisor {
 public:
  Supervisor(const Options& o, const config::Config& cfg,
             const std::optional<ctl_plugin::CtlConfig>& ctl)
      : opt_(o), cfg_(cfg), ctl_(ctl) {}

  int Run() {
    if (geteuid() != 0) Die("must be started as root: it starts netd and the engine as their users");
    engine_ = LookUp(cfg_.engine.user, "engine.user");
    netd_user_ = LookUp(cfg_.netd.user, "netd.user");
    if (engine_.uid == netd_user_.uid) Die("engine.user and netd.user must be different users");
    // The engine reads the config itself, as its user: find out now, not in
    // a restart loop.
    if (!UserCan(engine_, opt_.config_path, R_OK)) {
      Die("user " + engine_.name + " (engine.user) cannot read " + opt_.config_path +
          "; make it readable to that user (e.g. chgrp " + engine_.name + " and chmod 0640)");
    }
    BlockSignals();
    notify_ = NotifySocket(&notify_address_);
    paths_.emplace(cfg_, ctl_, engine_, netd_user_);
    if (common::Status st = paths_->Prepare(); !st.ok()) Die(st.message());
    for (const auto& f : cfg_.frontends) {
      if (f.listen.port < 1024) need_bind_ = true;
    }
    policy_text_ = config::NetdPolicyText(cfg_);
    policy_ = PolicyFile(policy_text_);
    DropPrivileges();
    // Start-up, all or nothing: netd ready, then the engine ready.
    Spawn(netd_);
    if (!AwaitReady(netd_)) return Fail("proxygw-netd did not start (see its message above)");
    Spawn(engine_child_);
    if (!AwaitReady(engine_child_)) return Fail("proxygw-engine did not start (see its message above)");
    Log("INFO", "running", "netd_pid=" + std::to_string(netd_.pid) +
                               " engine_pid=" + std::to_string(engine_child_.pid));
    return Loop();
  }

 private:
  void BlockSignals() {
    sigset_t set;
    sigemptyset(&set);
    for (int s : {SIGCHLD, SIGTERM, SIGINT, SIGHUP}) sigaddset(&set, s);
    sigprocmask(SIG_BLOCK, &set, nullptr);
    signals_.Reset(signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
    if (!signals_.valid()) Die(std::string("signalfd: ") + std::strerror(errno));
  }

  // What the supervisor needs from here on: start netd as root with
  // CAP_NET_ADMIN (netd drops the rest itself), switch the engine's ids, grant
  // it CAP_NET_BIND_SERVICE when needed, and signal both.
  // Keeps those of them it has (a supervisor started without CAP_NET_ADMIN
  // runs on, and netd then reports that it cannot open netlink).
  void DropPrivileges() {
    capng_get_caps_process();
    std::vector<int> keep;
    for (int cap : {CAP_NET_ADMIN, CAP_SETUID, CAP_SETGID, CAP_SETPCAP, CAP_KILL}) {
      if (capng_have_capability(CAPNG_PERMITTED, cap)) keep.push_back(cap);
    }
    if (need_bind_ && capng_have_capability(CAPNG_PERMITTED, CAP_NET_BIND_SERVICE)) {
      keep.push_back(CAP_NET_BIND_SERVICE);
    }
    capng_clear(CAPNG_SELECT_BOTH);
    for (int cap : keep) {
      capng_update(CAPNG_ADD,
                   static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_BOUNDING_SET),
                   cap);
    }
    if (capng_apply(CAPNG_SELECT_BOTH) != 0) Die("cannot drop the supervisor's capabilities");
  }

  void Spawn(Child& c) {
    pid_t pid = fork();
    if (pid < 0) Die(std::string("fork: ") + std::strerror(errno));
    if (pid == 0) {
      sigset_t none;
      sigemptyset(&none);
      sigprocmask(SIG_SETMASK, &none, nullptr);
      // A session of its own: a Ctrl-C on the supervisor's terminal reaches
      // only the supervisor, which then stops the children in order.
      setsid();
      setenv("NOTIFY_SOCKET", notify_address_.c_str(), 1);
      if (&c == &netd_) ExecNetd();
      ExecEngine();
    }
    c.pid = pid;
    c.ready = false;
    c.started = Clock::now();
    c.restart_at.reset();
    Log("INFO", std::string("started ") + c.name, "pid=" + std::to_string(pid));
  }

  [[noreturn]] void ExecNetd() {
    // The listening socket becomes fd 3, the policy fd 4; netd closes the rest.
    if (!AsFd3(paths_->netd_socket()) || dup2(policy_.get(), 4) != 4) _exit(127);
    std::vector<std::string> args = {opt_.netd_binary, "--fd", "3", "--engine-user", engine_.name,
                                     "--user", netd_user_.name, "--policy", "/proc/self/fd/4"};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    std::fprintf(stderr, "proxygw: exec %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }

  [[noreturn]] void ExecEngine() {
    // The ctl socket, with systemd's socket-activation convention, which the
    // ctl plugin follows (plugins/ctl/inherited_socket.h).
    if (paths_->ctl_socket() >= 0) {
      if (!AsFd3(paths_->ctl_socket())) _exit(127);
      setenv("LISTEN_PID", std::to_string(getpid()).c_str(), 1);
      setenv("LISTEN_FDS", "1", 1);
      setenv("LISTEN_FDNAMES", ctl_plugin::kInheritedSocketName, 1);
    }
    capng_clear(CAPNG_SELECT_BOTH);
    if (need_bind_) {
      capng_update(CAPNG_ADD,
                   static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED | CAPNG_INHERITABLE |
                                             CAPNG_AMBIENT),
                   CAP_NET_BIND_SERVICE);
    }
    if (capng_change_id(static_cast<int>(engine_.uid), static_cast<int>(engine_.gid),
                        static_cast<capng_flags_t>(CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING)) != 0) {
      std::fprintf(stderr, "proxygw: cannot switch to user %s\n", engine_.name.c_str());
      _exit(127);
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    if (chdir("/") != 0) _exit(127);
    std::vector<std::string> args = {opt_.engine_binary, "--config", opt_.config_path};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    execv(argv[0], argv.data());
    std::fprintf(stderr, "proxygw: exec %s: %s\n", argv[0], std::strerror(errno));
    _exit(127);
  }

  // Reads READY=1 datagrams; marks the sending child ready.
  void ReadNotify() {
    for (;;) {
      char buf[512];
      char cbuf[CMSG_SPACE(sizeof(ucred))];
      iovec iov{buf, sizeof buf - 1};
      msghdr msg{};
      msg.msg_iov = &iov;
      msg.msg_iovlen = 1;
      msg.msg_control = cbuf;
      msg.msg_controllen = sizeof cbuf;
      ssize_t n = recvmsg(notify_.get(), &msg, MSG_DONTWAIT);
      if (n < 0) return;
      buf[n] = '\0';
      pid_t from = 0;
      for (cmsghdr* c = CMSG_FIRSTHDR(&msg); c; c = CMSG_NXTHDR(&msg, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SCM_CREDENTIALS) {
          ucred cr;
          std::memcpy(&cr, CMSG_DATA(c), sizeof cr);
          from = cr.pid;
        }
      }
      if (std::strstr(buf, "READY=1") == nullptr) continue;
      for (Child* c : {&netd_, &engine_child_}) {
        if (c->pid != 0 && c->pid == from && !c->ready) {
          c->ready = true;
          Log("INFO", std::string(c->name) + " is ready");
        }
      }
    }
  }

  // Waits for `c` to report ready; false if it exits or times out first.
  bool AwaitReady(Child& c) {
    auto deadline = Clock::now() + kReadyTimeout;
    while (!c.ready) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        Log("ERROR", std::string(c.name) + " did not report ready in time");
        return false;
      }
      pollfd fds[2] = {{notify_.get(), POLLIN, 0}, {signals_.get(), POLLIN, 0}};
      poll(fds, 2, static_cast<int>(left.count()));
      ReadNotify();
      signalfd_siginfo si;
      while (read(signals_.get(), &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGCHLD) {
          if (Reap() && c.pid == 0) return false;
        } else if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
          Log("INFO", "signal during start-up; stopping");
          return false;
        }
      }
    }
    return true;
  }

  // Reaps exited children; true if any of ours exited.
  bool Reap() {
    bool any = false;
    for (;;) {
      int status = 0;
      pid_t pid = waitpid(-1, &status, WNOHANG);
      if (pid <= 0) break;
      for (Child* c : {&netd_, &engine_child_}) {
        if (c->pid != pid) continue;
        any = true;
        c->pid = 0;
        std::string how = ExitText(status);
        if (stopping_ || c->replacing) {
          Log("INFO", std::string(c->name) + " stopped", "how=\"" + how + "\"");
          continue;
        }
        if (Clock::now() - c->started > kHealthyAfter) c->backoff = kMinBackoff;
        c->restart_at = Clock::now() + c->backoff;
        Log("WARN", std::string(c->name) + " exited; restarting it",
            "how=\"" + how + "\" in=" + std::to_string(c->backoff.count()) + "s");
        c->backoff = std::min(c->backoff * 2, std::chrono::seconds(kMaxBackoff));
      }
    }
    return any;
  }

  int Fail(const std::string& why) {
    stopping_ = true;
    Stop(engine_child_, SIGTERM, EngineStopBudget());
    Stop(netd_, SIGTERM, kNetdStopTimeout);
    RemoveSockets();
    std::fprintf(stderr, "proxygw: %s\n", why.c_str());
    return 1;
  }

  void RemoveSockets() {
    if (common::Status st = paths_->RemoveSockets(); !st.ok()) {
      Log("WARN", "socket not removed", "error=\"" + st.message() + "\"");
    }
  }

  // Sends `sig`, waits up to `limit`, then SIGKILL.
  // The engine drains its targets, each within its stop_timeout, and holds
  // itself to the config's shutdown budget; a little more before SIGKILL.
  std::chrono::seconds EngineStopBudget() const { return cfg_.ShutdownBudget() + kNetdStopTimeout; }

  void Stop(Child& c, int sig, std::chrono::seconds limit) {
    if (c.pid == 0) return;
    kill(c.pid, sig);
    auto deadline = Clock::now() + limit;
    while (c.pid != 0) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (left.count() <= 0) {
        Log("WARN", std::string(c.name) + " did not stop in time; killing it");
        kill(c.pid, SIGKILL);
        deadline = Clock::now() + std::chrono::seconds(5);
        continue;
      }
      pollfd fds[1] = {{signals_.get(), POLLIN, 0}};
      poll(fds, 1, static_cast<int>(std::min<long long>(left.count(), 200)));
      signalfd_siginfo si;
      while (read(signals_.get(), &si, sizeof si) == sizeof si) {
        if (si.ssi_signo == SIGTERM || si.ssi_signo == SIGINT) {
          Log("WARN", "second signal: killing what is left");
          if (engine_child_.pid) kill(engine_child_.pid, SIGKILL);
          if (netd_.pid) kill(netd_.pid, SIGKILL);
        }
      }
      Reap();
    }
  }

  // SIGHUP: a config that declares other mappings needs a netd with the new
  // policy before the engine reloads it. netd restarts at once (its table and
  // forwarding stay; the engine reconnects and syncs), then the engine gets
  // the SIGHUP. A config that no longer loads leaves netd as it is. The new
  // policy's marks follow the one netd has (NetdPolicyText), so the keys that
  // stay keep their marks.
  void Reload() {
    config::LoadResult r = config::LoadConfigFile(opt_.config_path);
    if (!r.ok()) {
      Log("WARN", "config does not load; netd keeps its policy, ignoring",
          "errors=" + std::to_string(r.errors.size()));
    } else if (std::string text = config::NetdPolicyText(*r.config, policy_text_);
               text != policy_text_) {
      Log("INFO", "the config declares other mappings: restarting proxygw-netd with them");
      policy_text_ = std::move(text);
      policy_ = PolicyFile(policy_text_);
      netd_.replacing = true;
      Stop(netd_, SIGTERM, kNetdStopTimeout);
      netd_.replacing = false;
      Spawn(netd_);
    }
    if (engine_child_.pid) kill(engine_child_.pid, SIGHUP);
  }

  // The loop: reap and restart children, forward SIGHUP, stop on SIGTERM/SIGINT.
  int Loop() {
    for (;;) {
      int timeout = -1;
      for (Child* c : {&netd_, &engine_child_}) {
        if (!c->restart_at) continue;
        auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(*c->restart_at - Clock::now()).count();
        timeout = timeout < 0 ? static_cast<int>(std::max<long long>(ms, 0))
                              : std::min(timeout, static_cast<int>(std::max<long long>(ms, 0)));
      }
      pollfd fds[2] = {{signals_.get(), POLLIN, 0}, {notify_.get(), POLLIN, 0}};
      poll(fds, 2, timeout);
      ReadNotify();
      signalfd_siginfo si;
      while (read(signals_.get(), &si, sizeof si) == sizeof si) {
        switch (si.ssi_signo) {
          case SIGCHLD:
            Reap();
            break;
          case SIGHUP:
            Reload();
            break;
          case SIGTERM:
          case SIGINT:
            Log("INFO", "stopping: the engine first, then netd");
            stopping_ = true;
            Stop(engine_child_, SIGTERM, EngineStopBudget());
            Stop(netd_, SIGTERM, kNetdStopTimeout);
            RemoveSockets();
            Log("INFO", "stopped");
            return 0;
        }
      }
      for (Child* c : {&netd_, &engine_child_}) {
        if (c->restart_at && Clock::now() >= *c->restart_at) Spawn(*c);
      }
    }
  }

  Options opt_;
  const config::Config& cfg_;
  const std::optional<ctl_plugin::CtlConfig>& ctl_;
  User engine_;
  User netd_user_;
  std::optional<RuntimePaths> paths_;  // prepared in Run
  bool need_bind_ = false;
  bool stopping_ = false;
  UniqueFd signals_;
  UniqueFd notify_;
  std::string notify_address_;
  std::string policy_text_;
  UniqueFd policy_;  // netd's policy, handed to each netd it starts
  Child netd_{"proxygw-netd"};
  Child engine_child_{"proxygw-engine"};
};

}  // namespace

int Run(const Options& options, const config::Config& cfg,
        const std::optional<ctl_plugin::CtlConfig>& ctl) {
  Supervisor s(options, cfg, ctl);
  return s.Run();
}

}  // namespace supervisor
