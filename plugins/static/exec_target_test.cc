// static:exec with real commands, as an HA node that does not own the
// backend sees it (docs/ha.md): its `check` answers CheckRunning with the
// owner's command and environment, and starts, stops and records nothing;
// askers share a check that waits in the queue; a start still makes a check
// give way, a check never does; Close leaves no check behind. The event loop
// runs in the test thread; bounds are generous, nothing asserts on a sleep.
#include "plugins/static/exec_target.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "proxygw-engine/state_store.h"

namespace plugins::static_ns {
namespace {

using common::Status;
using namespace std::chrono_literals;
namespace fs = std::filesystem;

class ExecTargetTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgw-exec-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    state_ = std::make_unique<engine::StateStore>((dir_ / "state").string());
    ASSERT_TRUE(state_->Open().ok());
  }
  void TearDown() override {
    handler_.reset();
    fs::remove_all(dir_);
  }

  // A static:exec target whose commands append their action to `actions`;
  // `check` (shell) unless empty. Named after the test's pid, so that
  // parallel runs never share a state record.
  void Make(const std::string& check, const std::string& extra = "") {
    cfg_.name = "t-" + std::to_string(getpid());
    const std::string log = (dir_ / "actions").string();
    std::string options = "{start: 'echo \"$PROXYGW_ACTION\" >> " + log +
                          "', stop: 'echo \"$PROXYGW_ACTION\" >> " + log + "'";
    if (!check.empty()) options += ", check: '" + check + "'";
    options += extra + "}";
    cfg_.options.node = YAML::Load(options);
    cfg_.options.path = "targets[0].options";
    engine::TargetContext ctx{io_, cfg_, engine::Logger(), *state_,
                              [this](const std::string& why) { exited_ = why; }};
    config::ErrorSink sink("test.yaml", &errors_);
    handler_ = NewExecTarget(ctx, sink);
    ASSERT_NE(handler_, nullptr);
  }
  // Asks CheckRunning; the answer lands in the returned slot.
  std::shared_ptr<std::optional<Status>> Ask() {
    auto answer = std::make_shared<std::optional<Status>>();
    handler_->CheckRunning([answer](Status st) { *answer = st; });
    return answer;
  }
  bool RunUntil(const std::function<bool()>& pred, std::chrono::seconds bound = 30s) {
    auto deadline = std::chrono::steady_clock::now() + bound;
    while (!pred() && std::chrono::steady_clock::now() < deadline) {
      io_.run_for(20ms);
      io_.restart();
    }
    return pred();
  }
  Status Await(const std::function<void(engine::Done)>& call) {
    std::optional<Status> out;
    call([&](Status st) { out = st; });
    EXPECT_TRUE(RunUntil([&] { return out.has_value(); }));
    return out.value_or(Status::Internal("no answer"));
  }
  std::string File(const std::string& name) const {
    std::ifstream in(dir_ / name);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  bool Started() const { return state_->Get(cfg_.name).value("started", false); }

  fs::path dir_;
  boost::asio::io_context io_;
  config::Target cfg_;
  std::unique_ptr<engine::StateStore> state_;
  std::vector<config::ConfigError> errors_;
  std::unique_ptr<engine::TargetHandler> handler_;
  std::optional<std::string> exited_;
};

TEST_F(ExecTargetTest, WithoutACheckTheKindCannotTell) {
  Make("");
  EXPECT_EQ(handler_->RunningCheckInterval(), std::nullopt);
}

TEST_F(ExecTargetTest, AFollowerAsksAtTheCheckInterval) {
  Make("true");
  EXPECT_EQ(handler_->RunningCheckInterval(), 30s) << "the default check_interval";
  Make("true", ", check_interval: 5s");
  EXPECT_EQ(handler_->RunningCheckInterval(), 5s);
}

TEST_F(ExecTargetTest, TheCheckTellsWhetherTheBackendRunsAndStartsStopsAndRecordsNothing) {
  const std::string flag = (dir_ / "running").string();
  Make("echo \"$PROXYGW_ACTION\" >> " + (dir_ / "actions").string() + "; test -e " + flag);
  Status down = Await([&](engine::Done d) { handler_->CheckRunning(d); });
  EXPECT_TRUE(down.IsUnavailable());
  EXPECT_EQ(down.message(), "check failed (exit status 1)");
  std::ofstream(dir_ / "running") << "";
  EXPECT_TRUE(Await([&](engine::Done d) { handler_->CheckRunning(d); }).ok());
  EXPECT_EQ(File("actions"), "check\ncheck\n") << "no start, no stop";
  EXPECT_FALSE(Started());
  // Nothing owned: Close stops nothing.
  EXPECT_TRUE(Await([&](engine::Done d) { handler_->Close(d); }).ok());
  EXPECT_EQ(File("actions"), "check\ncheck\n");
  EXPECT_FALSE(exited_.has_value());
}

TEST_F(ExecTargetTest, AsksWhileACheckWaitsInTheQueueShareIt) {
  const std::string runs = (dir_ / "runs").string();
  Make("echo run >> " + runs + "; sleep 0.3");
  auto first = Ask();   // runs at once
  auto second = Ask();  // waits behind it...
  auto third = Ask();   // ...and so does this one, with it
  ASSERT_TRUE(
      RunUntil([&] { return first->has_value() && second->has_value() && third->has_value(); }));
  EXPECT_TRUE(first->value().ok() && second->value().ok() && third->value().ok());
  EXPECT_EQ(File("runs"), "run\nrun\n") << "two checks for three asks";
}

TEST_F(ExecTargetTest, AWarmAfterFollowingStartsAsWithoutAndAStartStillCancelsACheck) {
  Make("echo $$ > " + (dir_ / "pid").string() + "; exec sleep 30");
  auto asked = Ask();
  ASSERT_TRUE(RunUntil([&] { return !File("pid").empty(); }));
  // Promoted, the backend found down, then warmed: the start does not wait
  // for the follower's check, which gives way as the owner's would.
  EXPECT_TRUE(Await([&](engine::Done d) { handler_->Warm(d); }).ok());
  ASSERT_TRUE(asked->has_value());
  EXPECT_EQ(asked->value().message(), "check cancelled");
  EXPECT_TRUE(Started());
  EXPECT_TRUE(Await([&](engine::Done d) { handler_->Drain(d); }).ok());
  EXPECT_EQ(File("actions"), "start\nstop\n");
  EXPECT_FALSE(Started());
}

TEST_F(ExecTargetTest, CloseKillsAFollowersCheckAndWaitsForIt) {
  const std::string pidfile = (dir_ / "pid").string();
  Make("echo $$ > " + pidfile + "; exec sleep 60");
  auto asked = Ask();
  auto queued = Ask();  // shares nothing with the running one: waits behind it
  ASSERT_TRUE(RunUntil([&] { return !File("pid").empty(); }));
  const pid_t pid = std::stoi(File("pid"));
  const auto closing = std::chrono::steady_clock::now();
  EXPECT_TRUE(Await([&](engine::Done d) { handler_->Close(d); }).ok());
  EXPECT_LT(std::chrono::steady_clock::now() - closing, 15s);
  EXPECT_NE(kill(pid, 0), 0) << "the check is gone once Close is done";
  ASSERT_TRUE(asked->has_value() && queued->has_value());
  EXPECT_EQ(asked->value().message(), "check cancelled");
  EXPECT_EQ(queued->value().message(), "check cancelled") << "never started";
  EXPECT_EQ(File("actions"), "") << "nothing stopped";
}

}  // namespace
}  // namespace plugins::static_ns
