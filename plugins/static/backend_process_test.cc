// BackendProcess with real processes (no root needed): a stop gives the
// whole process group its grace, not only the shell; processes that left the
// group are stopped and reported; a shell that exits by itself takes the rest
// of its group down gracefully; a backend gets only stdin/stdout/stderr and
// the environment it is given. The event loop runs in the test thread; bounds
// are generous and nothing asserts on a fixed sleep.
#include "plugins/static/backend_process.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <algorithm>
#include <boost/asio/io_context.hpp>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <set>
#include <sstream>
#include <string>

namespace plugins::static_ns {
namespace {

using namespace std::chrono_literals;
namespace fs = std::filesystem;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

bool PidAlive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  auto paren = s.rfind(')');
  return paren != std::string::npos && s.size() > paren + 2 && s[paren + 2] != 'Z';
}

class BackendProcessTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgw-backend-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { fs::remove_all(dir_); }

  // A backend named "t-<pid>" (so that parallel runs never see each other's
  // strays) with a 10 s stop_timeout.
  std::unique_ptr<BackendProcess> Make(std::chrono::seconds stop = 10s) {
    return std::make_unique<BackendProcess>(io_, engine::Logger(), "t-" + std::to_string(getpid()),
                                            stop, [this](const std::string& how, bool stopped) {
                                              gone_how_ = how;
                                              gone_stopped_ = stopped;
                                            });
  }
  BackendProcess::Spec Spec(const std::string& command) {
    return {command,
            {"PATH=/usr/bin:/bin", "GIVEN=yes"},
            (dir_ / "out").string(),
            (dir_ / "err").string()};
  }
  // Runs the loop until the backend is reported gone (60 s at most).
  bool RunUntilGone() {
    auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!gone_how_ && std::chrono::steady_clock::now() < deadline) {
      io_.run_for(50ms);
      io_.restart();
    }
    return gone_how_.has_value();
  }
  // Runs the loop until `path` exists (30 s at most).
  bool RunUntilFile(const fs::path& path) {
    auto deadline = std::chrono::steady_clock::now() + 30s;
    while (!fs::exists(path) && std::chrono::steady_clock::now() < deadline) {
      io_.run_for(20ms);
      io_.restart();
    }
    return fs::exists(path);
  }

  boost::asio::io_context io_;
  fs::path dir_;
  std::optional<std::string> gone_how_;
  bool gone_stopped_ = false;
};

// Bug: the shell's death SIGKILLed its whole group at once, so a server
// started by a wrapper (`server; cleanup`, `server | tee`) lost its shutdown
// save: stop_timeout protected only the shell.
TEST_F(BackendProcessTest, StopGivesTheWholeGroupItsGraceAfterTheShellDies) {
  auto p = Make();
  fs::path ready = dir_ / "ready", saved = dir_ / "saved";
  // The "server" saves for 1 s after SIGTERM; the shell dies of SIGTERM at once.
  std::string server = "sh -c 'trap \"sleep 1; touch " + saved.string() +
                       "; exit 0\" TERM; touch " + ready.string() +
                       "; while :; do sleep 0.1; done'";
  ASSERT_TRUE(p->Start(Spec(server + "; true")).ok());
  ASSERT_TRUE(RunUntilFile(ready));
  p->Stop();
  ASSERT_TRUE(RunUntilGone());
  EXPECT_TRUE(gone_stopped_);
  EXPECT_TRUE(fs::exists(saved)) << "the server was killed before it saved";
  EXPECT_FALSE(p->running());
}

TEST_F(BackendProcessTest, StopKillsWhatIgnoresSigtermAfterStopTimeout) {
  auto p = Make(1s);
  fs::path ready = dir_ / "ready";
  ASSERT_TRUE(
      p->Start(Spec("trap '' TERM; touch " + ready.string() + "; while :; do sleep 0.1; done"))
          .ok());
  ASSERT_TRUE(RunUntilFile(ready));
  pid_t pid = p->pid();
  p->Stop();
  ASSERT_TRUE(RunUntilGone());
  EXPECT_EQ(*gone_how_, "killed by signal Killed");
  EXPECT_FALSE(PidAlive(pid));
}

TEST_F(BackendProcessTest, ProcessesThatLeftTheGroupAreStoppedToo) {
  auto p = Make();
  fs::path stray = dir_ / "stray";
  // setsid: a session (and group) of its own, as a daemon would make.
  ASSERT_TRUE(p->Start(Spec("setsid sh -c 'echo $$ > " + stray.string() +
                            "; exec sleep 1000' & exec sleep 1000"))
                  .ok());
  ASSERT_TRUE(RunUntilFile(stray));
  pid_t stray_pid = 0;
  for (int i = 0; i < 100 && stray_pid == 0; ++i) {
    std::istringstream(Slurp(stray)) >> stray_pid;
    if (stray_pid == 0) usleep(20000);
  }
  ASSERT_GT(stray_pid, 0);
  ASSERT_NE(getpgid(stray_pid), p->pid());
  p->Stop();
  ASSERT_TRUE(RunUntilGone());
  EXPECT_FALSE(PidAlive(stray_pid)) << "a process that left the group outlived the stop";
}

// Bug: strays were found by PROXYGW_TARGET=<name>, which a backend of the
// same name started by another engine (or another test run) carries too: a
// stop or a freeze signalled that one as well.
TEST_F(BackendProcessTest, AnotherRunOfTheSameTargetIsNotAStray) {
  auto mine = Make(), other = Make();
  fs::path ready = dir_ / "ready", other_ready = dir_ / "other";
  ASSERT_TRUE(other->Start(Spec("setsid sh -c 'touch " + other_ready.string() +
                                "; exec sleep 1000' & exec sleep 1000"))
                  .ok());
  ASSERT_TRUE(mine->Start(Spec("touch " + ready.string() + "; exec sleep 1000")).ok());
  ASSERT_TRUE(RunUntilFile(ready));
  ASSERT_TRUE(RunUntilFile(other_ready));
  pid_t other_pid = other->pid();
  mine->Stop();
  ASSERT_TRUE(RunUntilGone());
  EXPECT_TRUE(PidAlive(other_pid));
  gone_how_.reset();
  other->Stop();
  ASSERT_TRUE(RunUntilGone());
}

// static:exec's commands: done when the shell exits, what they started is
// left running (a VM's or a container's own process).
TEST_F(BackendProcessTest, ACommandIsDoneWhenItsShellExits) {
  auto p = Make();
  p->RunToCompletion();
  fs::path daemon = dir_ / "daemon";
  ASSERT_TRUE(p->Start(Spec("sh -c 'echo $$ > " + daemon.string() +
                            "; exec sleep 1000' & echo started; exit 0"))
                  .ok());
  ASSERT_TRUE(RunUntilGone());
  EXPECT_EQ(*gone_how_, "exit status 0");
  ASSERT_TRUE(RunUntilFile(daemon));
  pid_t daemon_pid = 0;
  for (int i = 0; i < 100 && daemon_pid == 0; ++i) {
    std::istringstream(Slurp(daemon)) >> daemon_pid;
    if (daemon_pid == 0) usleep(20000);
  }
  ASSERT_GT(daemon_pid, 0);
  EXPECT_TRUE(PidAlive(daemon_pid)) << "what the command started was stopped with it";
  ::kill(daemon_pid, SIGKILL);
}

TEST_F(BackendProcessTest, AShellThatExitsTakesTheRestOfItsGroupDownGracefully) {
  auto p = Make();
  fs::path ready = dir_ / "ready", saved = dir_ / "saved";
  // The shell starts a server in the background and exits as soon as the
  // server has set its TERM trap (it touches `ready` after): exiting at once
  // raced the trap, and a fast build sent SIGTERM before it was set.
  ASSERT_TRUE(p->Start(Spec("sh -c 'trap \"touch " + saved.string() + "; exit 0\" TERM; touch " +
                            ready.string() + "; while :; do sleep 0.1; done' & until [ -e " +
                            ready.string() + " ]; do sleep 0.01; done; exit 3"))
                  .ok());
  ASSERT_TRUE(RunUntilGone());
  EXPECT_EQ(*gone_how_, "exit status 3");
  EXPECT_FALSE(gone_stopped_);
  EXPECT_TRUE(fs::exists(saved)) << "the rest of the group got no SIGTERM";
}

// Bug: backends inherited the engine's descriptors (ctl connections, probe
// sockets) and environment (NOTIFY_SOCKET).
TEST_F(BackendProcessTest, ABackendGetsOnlyItsThreeDescriptorsAndTheGivenEnvironment) {
  int leak = ::open("/dev/null", O_RDONLY);  // no O_CLOEXEC, as Asio's sockets
  ASSERT_GE(leak, 3);
  ::setenv("NOTIFY_SOCKET", "/run/systemd/notify", 1);
  auto p = Make();
  // Read from /proc, not by the shell: a shell holds descriptors of its own
  // (a pipeline's pipes, saved redirections) while its commands run.
  ASSERT_TRUE(p->Start(Spec("exec sleep 1000")).ok());
  ::close(leak);
  ::unsetenv("NOTIFY_SOCKET");
  std::string proc = "/proc/" + std::to_string(p->pid());
  // Once the shell has exec'd sleep: before that, /proc shows the engine's.
  for (int i = 0; i < 500 && Slurp(proc + "/comm") != "sleep\n"; ++i) usleep(20000);
  ASSERT_EQ(Slurp(proc + "/comm"), "sleep\n");
  std::set<std::string> fds;
  for (const auto& e : fs::directory_iterator(proc + "/fd")) fds.insert(e.path().filename());
  EXPECT_EQ(fds, (std::set<std::string>{"0", "1", "2"}));
  std::string env = Slurp(proc + "/environ");
  std::replace(env.begin(), env.end(), '\0', '\n');
  EXPECT_NE(env.find("GIVEN=yes\n"), std::string::npos) << env;
  EXPECT_NE(env.find("PROXYGW_TARGET=t-" + std::to_string(getpid()) + "\n"), std::string::npos)
      << env;
  EXPECT_NE(env.find("PROXYGW_RUN="), std::string::npos) << env;
  EXPECT_EQ(env.find("NOTIFY_SOCKET"), std::string::npos) << env;
  p->Stop();
  ASSERT_TRUE(RunUntilGone());
}

}  // namespace
}  // namespace plugins::static_ns
