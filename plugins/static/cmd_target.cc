#include "plugins/static/cmd_target.h"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/syscall.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <fstream>
#include <optional>
#include <sstream>

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include "proxygw-engine/config/duration.h"
#include "proxygw-engine/state_store.h"

extern char** environ;

namespace plugins::static_ns {
namespace {

namespace asio = boost::asio;
using common::Status;
using engine::Done;

constexpr std::uint32_t kDefaultStopTimeoutS = 10;
constexpr std::uint32_t kMaxStopTimeoutS = 3600;
constexpr auto kTailEvery = std::chrono::milliseconds(500);
// A backend's output file is emptied once read past this size.
constexpr off_t kTruncateAt = 4 << 20;
constexpr std::size_t kMaxLine = 4096;

// glibc 2.36's <sys/pidfd.h> lacks extern "C" (fixed in 2.37), so call the
// syscall directly. A pidfd becomes readable when the process exits, also for
// a process that is not our child (an adopted one).
int PidfdOpen(pid_t pid) { return static_cast<int>(::syscall(SYS_pidfd_open, pid, 0)); }

// Field 22 of /proc/<pid>/stat: the process's start time in clock ticks since
// boot. Together with the pid it names one process, even after pid reuse.
std::optional<unsigned long long> StartTime(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto paren = s.rfind(')');
  if (paren == std::string::npos) return std::nullopt;
  std::istringstream fields(s.substr(paren + 2));
  std::string f;
  for (int i = 3; i <= 22 && fields >> f; ++i) {
    if (i == 22) return std::strtoull(f.c_str(), nullptr, 10);
  }
  return std::nullopt;
}

std::string ExitText(int status) {
  if (WIFEXITED(status)) return "exit status " + std::to_string(WEXITSTATUS(status));
  if (WIFSIGNALED(status)) return std::string("killed by signal ") + strsignal(WTERMSIG(status));
  return "ended";
}

// Follows one output file of the backend, line by line, into the log.
class Tail {
 public:
  Tail(std::string path, std::string stream) : path_(std::move(path)), stream_(std::move(stream)) {}

  // Starts at the file's current end (what was written before is not ours
  // to log again) or, for a new backend, at 0.
  void Begin(bool from_end) {
    partial_.clear();
    offset_ = 0;
    if (from_end) {
      struct stat st{};
      if (stat(path_.c_str(), &st) == 0) offset_ = st.st_size;
    }
  }

  void Read(const engine::Logger& log, bool final) {
    int fd = ::open(path_.c_str(), O_RDWR | O_CLOEXEC);
    if (fd < 0) return;
    struct stat st{};
    if (fstat(fd, &st) == 0 && st.st_size < offset_) offset_ = 0;  // truncated meanwhile
    char buf[16384];
    for (;;) {
      ssize_t n = pread(fd, buf, sizeof buf, offset_);
      if (n <= 0) break;
      offset_ += n;
      for (ssize_t i = 0; i < n; ++i) {
        if (buf[i] == '\n' || partial_.size() >= kMaxLine) {
          log.Info("backend output", {{"stream", stream_}, {"line", partial_}});
          partial_.clear();
          if (buf[i] == '\n') continue;
        }
        partial_ += buf[i];
      }
    }
    if (final && !partial_.empty()) {
      log.Info("backend output", {{"stream", stream_}, {"line", partial_}});
      partial_.clear();
    }
    if (offset_ >= kTruncateAt && ftruncate(fd, 0) == 0) offset_ = 0;
    ::close(fd);
  }

 private:
  std::string path_;
  std::string stream_;
  off_t offset_ = 0;
  std::string partial_;
};

class CmdTarget : public engine::TargetHandler {
 public:
  CmdTarget(const engine::TargetContext& ctx, std::string command, std::chrono::seconds stop)
      : io_(ctx.io),
        name_(ctx.config.name),
        log_(ctx.log),
        state_(ctx.state),
        exited_(ctx.backend_exited),
        command_(std::move(command)),
        stop_timeout_(stop),
        tail_timer_(ctx.io),
        kill_timer_(ctx.io),
        out_(ctx.state.PathFor(ctx.config.name, "stdout"), "stdout"),
        err_(ctx.state.PathFor(ctx.config.name, "stderr"), "stderr") {}

  ~CmdTarget() override { Release(); }

  void Warm(Done done) override {
    if (running()) return done(Status::Ok());
    Status st = Spawn();
    done(st);
  }

  void Drain(Done done) override {
    if (!running()) return done(Status::Ok());
    stop_done_.push_back(std::move(done));
    if (stopping_) return;
    stopping_ = true;
    Signal(SIGTERM);
    kill_timer_.expires_after(stop_timeout_);
    kill_timer_.async_wait([w = std::weak_ptr<bool>(alive_), this](const boost::system::error_code& ec) {
      if (ec || !w.lock() || !running()) return;
      log_.Warn("backend did not stop in time; killing it",
                {{"stop_timeout", std::to_string(stop_timeout_.count()) + "s"}});
      Signal(SIGKILL);
    });
  }

  void Close(Done done) override {
    Drain([this, done](Status st) {
      Release();
      done(st);
    });
  }

  bool Adopt() override {
    nlohmann::json rec = state_.Get(name_);
    if (!rec.contains("pid")) return false;
    pid_t pid = rec.value("pid", 0);
    unsigned long long start = rec.value("start_time", 0ULL);
    auto now = StartTime(pid);
    if (pid <= 0 || !now || *now != start) {
      Forget();
      return false;
    }
    int fd = PidfdOpen(pid);
    if (fd < 0) {
      Forget();
      return false;
    }
    pid_ = pid;
    Watch(fd, /*our_child=*/false);
    out_.Begin(/*from_end=*/true);
    err_.Begin(/*from_end=*/true);
    if (rec.value("command", "") != command_) {
      log_.Warn("stopping a backend started with another command before the restart",
                {{"pid", std::to_string(pid)}});
      Drain([](Status) {});
      return false;
    }
    log_.Info("took over the running backend", {{"pid", std::to_string(pid)}});
    return true;
  }

 private:
  bool running() const { return pid_ > 0; }

  Status Spawn() {
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    posix_spawn_file_actions_init(&fa);
    posix_spawnattr_init(&attr);
    std::string out = state_.PathFor(name_, "stdout"), err = state_.PathFor(name_, "stderr");
    if (state_.dir().empty()) out = err = "/dev/null";
    posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
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
    posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSID | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    const char* argv[] = {"/bin/sh", "-c", command_.c_str(), nullptr};
    pid_t pid = 0;
    int rc = posix_spawn(&pid, "/bin/sh", &fa, &attr, const_cast<char* const*>(argv), environ);
    posix_spawn_file_actions_destroy(&fa);
    posix_spawnattr_destroy(&attr);
    if (rc != 0) return Status::FromErrno("start /bin/sh -c " + command_, rc);
    int fd = PidfdOpen(pid);
    if (fd < 0) {
      int e = errno;
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
      return Status::FromErrno("pidfd_open", e);
    }
    pid_ = pid;
    out_.Begin(false);
    err_.Begin(false);
    Watch(fd, /*our_child=*/true);
    nlohmann::json rec = state_.Get(name_);
    rec["pid"] = pid;
    rec["start_time"] = StartTime(pid).value_or(0);
    rec["command"] = command_;
    if (Status st = state_.Put(name_, rec); !st.ok()) {
      log_.Warn("could not record the backend's pid; a restarted engine will not adopt it",
                {{"error", st.message()}});
    }
    log_.Info("backend started", {{"pid", std::to_string(pid)}, {"command", command_}});
    return Status::Ok();
  }

  void Watch(int pidfd, bool our_child) {
    our_child_ = our_child;
    pidfd_ = std::make_unique<asio::posix::stream_descriptor>(io_, pidfd);
    pidfd_->async_wait(asio::posix::stream_descriptor::wait_read,
                       [w = std::weak_ptr<bool>(alive_), this](const boost::system::error_code& ec) {
                         if (ec || !w.lock()) return;
                         OnExit();
                       });
    TailSoon();
  }

  void TailSoon() {
    tail_timer_.expires_after(kTailEvery);
    tail_timer_.async_wait([w = std::weak_ptr<bool>(alive_), this](const boost::system::error_code& ec) {
      if (ec || !w.lock() || !running()) return;
      out_.Read(log_, false);
      err_.Read(log_, false);
      TailSoon();
    });
  }

  void OnExit() {
    std::string how = "exited";
    if (our_child_) {
      int status = 0;
      if (waitpid(pid_, &status, WNOHANG) == pid_) how = ExitText(status);
    }
    // Whatever the shell left in its group goes too.
    kill(-pid_, SIGKILL);
    out_.Read(log_, true);
    err_.Read(log_, true);
    log_.Info("backend stopped", {{"pid", std::to_string(pid_)}, {"how", how}});
    pid_ = 0;
    pidfd_.reset();
    tail_timer_.cancel();
    kill_timer_.cancel();
    Forget();
    bool expected = stopping_;
    stopping_ = false;
    auto done = std::move(stop_done_);
    stop_done_.clear();
    for (auto& d : done) d(Status::Ok());
    if (!expected && exited_) exited_(how);
  }

  void Signal(int sig) {
    if (pid_ <= 0) return;
    if (kill(-pid_, sig) != 0 && errno == ESRCH) kill(pid_, sig);
  }

  void Forget() {
    nlohmann::json rec = state_.Get(name_);
    rec.erase("pid");
    rec.erase("start_time");
    rec.erase("command");
    (void)state_.Put(name_, rec);
  }

  void Release() {
    tail_timer_.cancel();
    kill_timer_.cancel();
    pidfd_.reset();
  }

  asio::io_context& io_;
  std::string name_;
  engine::Logger log_;
  engine::StateStore& state_;
  std::function<void(const std::string&)> exited_;
  std::string command_;
  std::chrono::seconds stop_timeout_;
  asio::steady_timer tail_timer_;
  asio::steady_timer kill_timer_;
  Tail out_, err_;
  pid_t pid_ = 0;
  bool our_child_ = false;
  bool stopping_ = false;
  std::vector<Done> stop_done_;
  std::unique_ptr<asio::posix::stream_descriptor> pidfd_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace

std::unique_ptr<engine::TargetHandler> NewCmdTarget(const engine::TargetContext& ctx,
                                                    config::ErrorSink& errors) {
  const config::Options& o = ctx.config.options;
  std::size_t before = errors.count();
  auto f = config::Fields::Read(errors, o.node, o.path, o.location, {"command", "stop_timeout"},
                                /*null_is_empty=*/true);
  if (!f) return nullptr;
  auto command = f->String(errors, "command", /*required=*/true);
  std::uint32_t stop = kDefaultStopTimeoutS;
  if (auto s = f->String(errors, "stop_timeout", /*required=*/false)) {
    auto d = config::ParseGoDuration(*s);
    auto at = config::LocationOf(f->Get("stop_timeout"));
    if (!d.ok()) {
      errors.Add(at, f->PathOf("stop_timeout"), d.status().message());
    } else if (d->count() < 1'000'000'000 || d->count() % 1'000'000'000 != 0 ||
               d->count() / 1'000'000'000 > kMaxStopTimeoutS) {
      errors.Add(at, f->PathOf("stop_timeout"),
                 "must be whole seconds from 1s to 1h, got \"" + *s + "\"");
    } else {
      stop = static_cast<std::uint32_t>(d->count() / 1'000'000'000);
    }
  }
  if (!command || errors.count() != before) return nullptr;
  return std::make_unique<CmdTarget>(ctx, *command, std::chrono::seconds(stop));
}

}  // namespace plugins::static_ns
