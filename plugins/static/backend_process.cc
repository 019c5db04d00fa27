#include "plugins/static/backend_process.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>

#include "common/proc_file.h"

namespace plugins::static_ns {
namespace {

namespace asio = boost::asio;
using common::Status;

// How often a stopping backend's group is checked for survivors.
constexpr auto kPollEvery = std::chrono::milliseconds(100);
// After SIGKILL, how long to wait for the kernel to finish them off.
constexpr auto kAfterKill = std::chrono::seconds(5);

// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37), so call the
// syscall directly. A pidfd becomes readable when the process exits, also for
// a process that is not our child (an adopted one).
int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

std::string ExitText(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "ended";
}

// Fields of /proc/<pid>/stat after the command name: [0] is field 3 (state).
std::optional<std::vector<std::string>> StatFields(pid_t pid) {
  auto read = common::ReadProcFile("/proc/" + std::to_string(pid) + "/stat");
  if (!read) return std::nullopt;
  const std::string& s = *read;
  auto paren = s.rfind(')');
  if (paren == std::string::npos || paren + 2 > s.size()) return std::nullopt;
  std::istringstream in_fields(s.substr(paren + 2));
  std::vector<std::string> fields;
  for (std::string f; in_fields >> f;) fields.push_back(f);
  return fields;
}

}  // namespace

// A process that left the backend's group, remembered with its start time so
// that a reused pid is never signalled. Impl holds them, so it is not in the
// anonymous namespace (a unity build would warn: a member of a type with
// internal linkage).
struct Stray {
  pid_t pid;
  unsigned long long start;
  std::string comm;
};

namespace {

bool Alive(const Stray& p) {
  auto f = StatFields(p.pid);
  return f && f->size() > 19 && (*f)[0] != "Z" &&
         std::strtoull((*f)[19].c_str(), nullptr, 10) == p.start;
}

std::string Comm(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/comm");
  std::string c;
  std::getline(in, c);
  return c;
}

// Whether /proc/<pid>/environ holds `entry` ("PROXYGW_RUN=..."). Only the
// engine user's own processes are readable; others fail quietly.
bool EnvironHas(pid_t pid, const std::string& entry) {
  auto env = common::ReadProcFile("/proc/" + std::to_string(pid) + "/environ");
  if (!env) return false;
  std::istringstream in(*env);
  std::string var;
  while (std::getline(in, var, '\0')) {
    if (var == entry) return true;
  }
  return false;
}

// The value of `name` in /proc/<pid>/environ, "" when absent or unreadable.
std::string EnvironValue(pid_t pid, const std::string& name) {
  auto env = common::ReadProcFile("/proc/" + std::to_string(pid) + "/environ");
  if (!env) return "";
  std::istringstream in(*env);
  std::string var;
  while (std::getline(in, var, '\0')) {
    if (var.size() > name.size() && var.compare(0, name.size(), name) == 0 &&
        var[name.size()] == '=') {
      return var.substr(name.size() + 1);
    }
  }
  return "";
}

}  // namespace

struct BackendProcess::Impl : std::enable_shared_from_this<Impl> {
  asio::io_context& io;
  engine::Logger log;
  std::string target;
  std::chrono::seconds stop_timeout;
  OnGone on_gone;

  pid_t pid = 0;  // the shell, leader of the group `pid`
  bool our_child = false;
  bool shell_alive = false;
  bool terminating = false;  // SIGTERM sent to the group
  bool stop_asked = false;   // by Stop(), not by the shell's own exit
  bool killed = false;       // SIGKILL sent
  bool frozen = false;       // SIGSTOP sent, no SIGCONT since
  bool command = false;      // see RunToCompletion()
  std::string how;
  std::vector<Stray> strays;
  std::unique_ptr<asio::posix::stream_descriptor> pidfd;
  asio::steady_timer poll;
  asio::steady_timer kill_timer;

  Impl(asio::io_context& i, engine::Logger l, std::string t, std::chrono::seconds st, OnGone g)
      : io(i),
        log(std::move(l)),
        target(std::move(t)),
        stop_timeout(st),
        on_gone(std::move(g)),
        poll(i),
        kill_timer(i) {}

  // This run's mark, in the environment of everything the backend starts;
  // "" for a backend adopted without one (then only its group is ours).
  std::string run_id;
  std::string Marker() const { return "PROXYGW_RUN=" + run_id; }

  template <class F>
  auto Guard(F f) {
    return [w = weak_from_this(), f = std::move(f)](auto&&... args) mutable {
      if (auto s = w.lock()) f(*s, std::forward<decltype(args)>(args)...);
    };
  }

  bool GroupAlive() const { return pid > 0 && ::kill(-pid, 0) == 0; }

  void Watch(int fd) {
    shell_alive = true;
    pidfd = std::make_unique<asio::posix::stream_descriptor>(io, fd);
    pidfd->async_wait(asio::posix::stream_descriptor::wait_read,
                      Guard([](Impl& s, const boost::system::error_code& ec) {
                        if (!ec) s.OnShellExit();
                      }));
  }

  void OnShellExit() {
    how = "exited";
    if (our_child) {
      int status = 0;
      if (::waitpid(pid, &status, WNOHANG) == pid) how = ExitText(status);
    }
    shell_alive = false;
    pidfd.reset();
    if (command && !terminating) return Finish();
    if (!terminating && (GroupAlive() || !FindStrays().empty())) {
      // A wrapper's shell ended while what it started runs on: that is the
      // backend ending, but the rest gets its stop_timeout to finish (a save).
      log.Info("the backend's shell exited; stopping the rest of its processes",
               {{"pid", std::to_string(pid)}, {"how", how}});
      Terminate();
      return;
    }
    CheckGone();
  }

  // Processes of the engine's user that carry this target's marker but left
  // the group. The group's own members are signalled through the group.
  std::vector<Stray> FindStrays() const {
    std::vector<Stray> out;
    if (command || run_id.empty()) return out;
    DIR* d = ::opendir("/proc");
    if (d == nullptr) return out;
    const std::string marker = Marker();
    while (dirent* e = ::readdir(d)) {
      char* end = nullptr;
      long p = std::strtol(e->d_name, &end, 10);
      if (end == e->d_name || *end != '\0' || p <= 0 || p == ::getpid()) continue;
      auto f = StatFields(static_cast<pid_t>(p));
      // [2] is field 5, the process group; [19] field 22, the start time.
      if (!f || f->size() <= 19 || (*f)[0] == "Z" || std::atol((*f)[2].c_str()) == pid) continue;
      if (!EnvironHas(static_cast<pid_t>(p), marker)) continue;
      out.push_back({static_cast<pid_t>(p), std::strtoull((*f)[19].c_str(), nullptr, 10),
                     Comm(static_cast<pid_t>(p))});
    }
    ::closedir(d);
    return out;
  }

  void Signal(int sig) {
    if (pid > 0 && ::kill(-pid, sig) != 0 && errno == ESRCH && shell_alive) ::kill(pid, sig);
    for (const auto& s : strays) {
      if (Alive(s)) ::kill(s.pid, sig);
    }
  }

  void Terminate() {
    terminating = true;
    for (auto& s : FindStrays()) {
      log.Warn("a process left the backend's process group; stopping it with the backend",
               {{"pid", std::to_string(s.pid)}, {"comm", s.comm}});
      strays.push_back(std::move(s));
    }
    Signal(SIGTERM);
    if (frozen) {
      // Stopped processes act on SIGTERM only once they run again.
      Signal(SIGCONT);
      frozen = false;
    }
    kill_timer.expires_after(stop_timeout);
    kill_timer.async_wait(Guard([](Impl& s, const boost::system::error_code& ec) {
      if (ec || s.Gone()) return;
      s.log.Warn("backend did not stop in time; killing it",
                 {{"stop_timeout", std::to_string(s.stop_timeout.count()) + "s"}});
      s.killed = true;
      s.Signal(SIGKILL);
      s.kill_timer.expires_after(kAfterKill);
      s.kill_timer.async_wait(s.Guard([](Impl& t, const boost::system::error_code& ec2) {
        if (ec2 || t.Gone()) return;
        t.log.Warn("processes of the backend survive SIGKILL; giving up on them",
                   {{"pid", std::to_string(t.pid)}});
        t.Finish();
      }));
    }));
    PollSoon();
  }

  bool Gone() const {
    if (shell_alive || GroupAlive()) return false;
    for (const auto& s : strays) {
      if (Alive(s)) return false;
    }
    return true;
  }

  void PollSoon() {
    poll.expires_after(kPollEvery);
    poll.async_wait(Guard([](Impl& s, const boost::system::error_code& ec) {
      if (ec || s.pid == 0) return;
      if (!s.CheckGone()) s.PollSoon();
    }));
  }

  // Reports the backend gone once the shell, its group and its strays are.
  bool CheckGone() {
    if (!Gone()) return false;
    Finish();
    return true;
  }

  void Finish() {
    poll.cancel();
    kill_timer.cancel();
    pid = 0;
    strays.clear();
    bool asked = stop_asked;
    terminating = stop_asked = killed = frozen = false;
    if (on_gone) on_gone(how, asked);
  }
};

BackendProcess::BackendProcess(asio::io_context& io, engine::Logger log, std::string target,
                               std::chrono::seconds stop_timeout, OnGone on_gone)
    : impl_(std::make_shared<Impl>(io, std::move(log), std::move(target), stop_timeout,
                                   std::move(on_gone))) {}

BackendProcess::~BackendProcess() { Release(); }

void BackendProcess::RunToCompletion() { impl_->command = true; }

Status BackendProcess::Start(const Spec& spec) {
  Impl& s = *impl_;
  if (s.pid > 0) return Status::Internal("backend already running");
  posix_spawn_file_actions_t fa;
  posix_spawnattr_t attr;
  posix_spawn_file_actions_init(&fa);
  posix_spawnattr_init(&attr);
  posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&fa, 1, spec.stdout_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0600);
  posix_spawn_file_actions_addopen(&fa, 2, spec.stderr_path.c_str(), O_WRONLY | O_CREAT | O_APPEND,
                                   0600);
  // Nothing else of the engine's: not a ctl connection, a listener or a log
  // file, whatever their close-on-exec flags.
  posix_spawn_file_actions_addclosefrom_np(&fa, 3);
  // A session of its own: its own process group, no controlling terminal,
  // untouched by signals aimed at the engine's group.
  sigset_t none, defaults;
  sigemptyset(&none);
  sigemptyset(&defaults);
  for (int sig : {SIGPIPE, SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGCHLD, SIGUSR1, SIGUSR2}) {
    sigaddset(&defaults, sig);
  }
  posix_spawnattr_setsigmask(&attr, &none);
  posix_spawnattr_setsigdefault(&attr, &defaults);
  posix_spawnattr_setflags(&attr,
                           POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  std::random_device random;
  char id[17];
  std::snprintf(id, sizeof id, "%08x%08x", random(), random());
  s.run_id = id;
  std::vector<std::string> env = spec.environment;
  env.push_back("PROXYGW_TARGET=" + s.target);
  env.push_back(s.Marker());
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  const char* argv[] = {"/bin/sh", "-c", spec.command.c_str(), nullptr};
  pid_t pid = 0;
  int rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, const_cast<char* const*>(argv), envp.data());
  posix_spawn_file_actions_destroy(&fa);
  posix_spawnattr_destroy(&attr);
  if (rc != 0) return Status::FromErrno("start /bin/sh -c " + spec.command, rc);
  int fd = PidfdOpen(pid);
  if (fd < 0) {
    int e = errno;
    ::kill(-pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return Status::FromErrno("pidfd_open", e);
  }
  s.pid = pid;
  s.our_child = true;
  s.Watch(fd);
  return Status::Ok();
}

bool BackendProcess::Adopt(pid_t pid, unsigned long long start_time) {
  Impl& s = *impl_;
  if (pid <= 0 || s.pid > 0) return false;
  auto now = StartTime(pid);
  int fd = now && *now == start_time ? PidfdOpen(pid) : -1;
  if (fd < 0) {
    // The shell is gone; what it left in its group (the group id cannot have
    // been reused while a member lives) is the backend's remains: stop them.
    if (::kill(-pid, 0) == 0) {
      s.log.Warn("the backend's shell is gone but its processes run on; stopping them",
                 {{"pid", std::to_string(pid)}});
      s.pid = pid;
      s.how = "exited";
      s.stop_asked = true;
      s.Terminate();
    }
    return false;
  }
  s.pid = pid;
  s.our_child = false;
  s.run_id = EnvironValue(pid, "PROXYGW_RUN");
  s.Watch(fd);
  return true;
}

void BackendProcess::Stop() {
  Impl& s = *impl_;
  if (s.pid == 0) return;
  s.stop_asked = true;
  if (!s.terminating) s.Terminate();
}

void BackendProcess::Freeze() {
  Impl& s = *impl_;
  if (s.pid == 0 || s.terminating || s.frozen) return;
  for (auto& stray : s.FindStrays()) s.strays.push_back(std::move(stray));
  s.Signal(SIGSTOP);
  s.frozen = true;
}

void BackendProcess::Thaw() {
  Impl& s = *impl_;
  if (s.pid == 0 || !s.frozen) return;
  s.Signal(SIGCONT);
  s.frozen = false;
  s.strays.clear();
}

bool BackendProcess::frozen() const { return impl_->frozen; }

void BackendProcess::MarkFrozen() {
  Impl& s = *impl_;
  if (s.pid == 0) return;
  s.frozen = true;
  for (auto& stray : s.FindStrays()) s.strays.push_back(std::move(stray));
}

void BackendProcess::Release() {
  Impl& s = *impl_;
  s.poll.cancel();
  s.kill_timer.cancel();
  s.pidfd.reset();
  s.pid = 0;
  s.shell_alive = false;
}

bool BackendProcess::running() const { return impl_->pid > 0; }
pid_t BackendProcess::pid() const { return impl_->pid; }

std::optional<unsigned long long> BackendProcess::StartTime(pid_t pid) {
  auto f = StatFields(pid);
  if (!f || f->size() <= 19) return std::nullopt;
  return std::strtoull((*f)[19].c_str(), nullptr, 10);
}

}  // namespace plugins::static_ns
