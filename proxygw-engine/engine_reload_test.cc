// Engine::Reload with the fake dataplane and scripted handlers (the "test"
// plugin, testing/test_plugin.h): what survives a reload untouched, what is
// drained and replaced and in which order, and what is refused.
#include <gtest/gtest.h>

#include <unistd.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <boost/asio/io_context.hpp>

#include "proxygw-engine/engine.h"
#include "proxygw-engine/plugin_registry.h"
#include "proxygw-engine/testing/fakes.h"
#include "proxygw-engine/testing/loop.h"
#include "proxygw-engine/testing/test_plugin.h"

namespace engine {
namespace {

namespace fs = std::filesystem;
using testing::TestPlugin;
using Names = std::vector<std::string>;

// Targets a (UDP: no readiness wait) and b; frontends fa -> a, fb -> b.
std::string Targets(const std::string& a_idle = "5m") {
  return "targets:\n"
         "  - {name: a, kind: 'test:target', idle_timeout: " +
         a_idle +
         ", endpoints: [{name: e, protocol: udp, address: '198.18.2.2:7000'}]}\n"
         "  - {name: b, kind: 'test:target', idle_timeout: 5m,"
         " endpoints: [{name: e, protocol: udp, address: '198.18.2.3:7000'}]}\n";
}
const std::string kFrontends =
    "frontends:\n"
    "  - {name: fa, kind: 'test:frontend', listen: '198.18.0.1:7000', flow_timeout: 60s,"
    " target: 'a:e'}\n"
    "  - {name: fb, kind: 'test:frontend', listen: '198.18.0.1:7001', flow_timeout: 60s,"
    " target: 'b:e'}\n";

class EngineReloadTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pgw-reload-" + std::to_string(getpid()) + "-" +
                                        ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    testing::ResetTestPlugin(io_);
  }
  void TearDown() override {
    if (engine_) {
      bool done = false;
      engine_->Shutdown(Engine::ShutdownMode::kDrain, [&] { done = true; });
      testing::RunUntil(io_, [&] { return done; });
    }
    engine_.reset();
    fs::remove_all(dir_);
  }

  std::string Head(const std::string& state_dir = "state") const {
    return "version: v1\nlog: {output: stderr}\n"
           "engine: {state_dir: " + (dir_ / state_dir).string() + "}\nplugins: {test: {}}\n";
  }
  void Write(const std::string& body) {
    std::ofstream(dir_ / "proxygw.yaml") << body;
  }
  void Start(const std::string& body) {
    Write(body);
    config::LoadResult r = LoadAndCheck((dir_ / "proxygw.yaml").string());
    ASSERT_TRUE(r.ok()) << r.ErrorText();
    engine_ = std::make_unique<Engine>(io_, std::make_shared<const config::Config>(*r.config), dp_);
    ASSERT_TRUE(engine_->Start([] {}, nullptr).ok());
    Settle();
    // At start the engine has every inactive target's handler stop what an
    // engine restart might have left ("adopt", "drain").
    for (auto& [name, gens] : TestPlugin().targets) {
      while (!gens.back()->pending.empty()) gens.back()->Complete();
    }
    Settle();
  }
  void Settle() { testing::RunFor(io_, std::chrono::milliseconds(20)); }
  std::string State(const std::string& target) const {
    for (const auto& t : engine_->Status().targets) {
      if (t.name == target) return t.state;
    }
    return "absent";
  }
  bool RunUntil(const std::function<bool()>& pred) { return testing::RunUntil(io_, pred); }
  // The calls of the `gen`th handler built for target (frontend) `name`.
  static Names TargetCalls(const std::string& name, std::size_t gen = 0) {
    auto& gens = TestPlugin().targets[name];
    return gen < gens.size() ? gens[gen]->calls : Names{"<not built>"};
  }
  static Names FrontendCalls(const std::string& name, std::size_t gen = 0) {
    auto& gens = TestPlugin().frontends[name];
    return gen < gens.size() ? gens[gen]->calls : Names{"<not built>"};
  }
  void WarmActive(const std::string& name) {
    ASSERT_TRUE(engine_->Warm(name).ok());
    ASSERT_TRUE(RunUntil([&] { return State(name) == "active"; })) << State(name);
  }

  fs::path dir_;
  boost::asio::io_context io_;
  testing::FakeDataplane dp_;
  std::unique_ptr<Engine> engine_;
};

TEST_F(EngineReloadTest, ReloadingTheSameFileTouchesNothing) {
  Start(Head() + Targets() + kFrontends);
  WarmActive("a");
  const Names dp_before = dp_.calls;
  ReloadReport r = engine_->Reload();
  Settle();
  ASSERT_TRUE(r.applied) << (r.errors.empty() ? "" : r.errors[0]);
  EXPECT_EQ(r.targets.unchanged, (Names{"a", "b"}));
  EXPECT_EQ(r.frontends.unchanged, (Names{"fa", "fb"}));
  EXPECT_TRUE(r.targets.changed.empty() && r.remapped.empty());
  EXPECT_EQ(dp_.calls, dp_before) << "nothing asked of netd";
  EXPECT_EQ(State("a"), "active");
  EXPECT_EQ(TargetCalls("a"), (Names{"adopt", "drain", "warm"}));
  EXPECT_EQ(FrontendCalls("fa"), Names{"start"});
  EXPECT_EQ(TestPlugin().targets["a"].size(), 1u) << "no handler built again";
}

TEST_F(EngineReloadTest, AChangedTargetDrainsThenItsSuccessorStartsColdAndTakesAWarm) {
  testing::TestPlugin().new_target = [](testing::ScriptedTarget::Script& s) {
    s.auto_complete = false;
  };
  Start(Head() + Targets() + kFrontends);
  ASSERT_TRUE(engine_->Warm("a").ok());
  TestPlugin().targets["a"][0]->Complete();  // warm
  ASSERT_TRUE(RunUntil([&] { return State("a") == "active"; }));
  Write(Head() + Targets("6m") + kFrontends);
  ReloadReport r = engine_->Reload();
  ASSERT_TRUE(r.applied);
  EXPECT_EQ(r.targets.changed, Names{"a"});
  EXPECT_EQ(r.targets.unchanged, Names{"b"});
  EXPECT_EQ(r.frontends.changed, Names{"fa"}) << "a replaced target takes its frontends along";
  Settle();
  // The old one drains (forwarding off first), its successor waits.
  EXPECT_EQ(State("a"), "draining");
  EXPECT_EQ(TargetCalls("a"), (Names{"adopt", "drain", "warm", "drain"}));
  EXPECT_EQ(TargetCalls("a", 1), Names{"<not built>"});
  EXPECT_TRUE(dp_.enabled.find("a") == dp_.enabled.end());
  // The replaced frontend is closed, its successor started; its warm waits.
  EXPECT_EQ(FrontendCalls("fa"), (Names{"start", "close"}));
  EXPECT_EQ(FrontendCalls("fa", 1), Names{"start"});
  TestPlugin().warm["fa"]();
  TestPlugin().targets["a"][0]->Complete();  // drain
  Settle();
  EXPECT_EQ(TargetCalls("a"), (Names{"adopt", "drain", "warm", "drain", "close"}));
  EXPECT_EQ(TargetCalls("a", 1), Names{"<not built>"}) << "not before the old one has closed";
  TestPlugin().targets["a"][0]->Complete();  // close
  ASSERT_TRUE(RunUntil([&] { return TestPlugin().targets["a"].size() == 2; }));
  Settle();
  EXPECT_EQ(TargetCalls("a", 1), Names{"warm"}) << "the warm asked for meanwhile";
  TestPlugin().targets["a"][1]->Complete();
  ASSERT_TRUE(RunUntil([&] { return State("a") == "active"; }));
  EXPECT_EQ(TargetCalls("b"), (Names{"adopt", "drain"})) << "b untouched";
}

TEST_F(EngineReloadTest, AddedStartRemovedDrainAndCloseAndATargetOnlyRemapped) {
  Start(Head() + Targets() + kFrontends);
  WarmActive("a");
  WarmActive("b");
  const std::string more =
      "  - {name: c, kind: 'test:target', idle_timeout: 5m,"
      " endpoints: [{name: e, protocol: tcp, address: '198.18.2.4:80'}]}\n";
  const std::string frontends =
      "frontends:\n"
      "  - {name: fa, kind: 'test:frontend', listen: '198.18.0.1:7000', flow_timeout: 60s,"
      " target: 'a:e'}\n"
      "  - {name: fa2, kind: 'test:frontend', listen: '198.18.0.1:7002', flow_timeout: 60s,"
      " target: 'a:e'}\n"
      "  - {name: fc, kind: 'test:frontend', listen: '198.18.0.1:80', flow_timeout: 60s,"
      " target: 'c:e'}\n";
  std::string targets = Targets();
  targets = targets.substr(0, targets.find("  - {name: b")) + more;
  Write(Head() + targets + frontends);
  dp_.calls.clear();
  ReloadReport r = engine_->Reload();
  ASSERT_TRUE(r.applied) << (r.errors.empty() ? "" : r.errors[0]);
  EXPECT_EQ(r.targets.added, Names{"c"});
  EXPECT_EQ(r.targets.removed, Names{"b"});
  EXPECT_EQ(r.targets.unchanged, Names{"a"});
  EXPECT_EQ(r.remapped, Names{"a"});
  EXPECT_EQ(r.frontends.added, (Names{"fa2", "fc"}));
  EXPECT_EQ(r.frontends.removed, Names{"fb"});
  EXPECT_EQ(r.frontends.unchanged, Names{"fa"});
  ASSERT_TRUE(RunUntil([&] { return TargetCalls("b").back() == "close"; }));
  Settle();
  // a: one Change with both mappings, never switched off.
  EXPECT_EQ(State("a"), "active");
  EXPECT_EQ(std::count(dp_.calls.begin(), dp_.calls.end(), "disable a"), 0);
  EXPECT_EQ(std::count(dp_.calls.begin(), dp_.calls.end(), "enable a"), 1);
  EXPECT_EQ(dp_.enabled["a"].size(), 2u);
  // b: drained (forwarding off, flushed, backend stopped), closed, gone.
  EXPECT_EQ(TargetCalls("b"), (Names{"adopt", "drain", "warm", "drain", "close"}));
  EXPECT_TRUE(dp_.enabled.find("b") == dp_.enabled.end());
  EXPECT_EQ(State("b"), "absent");
  EXPECT_EQ(FrontendCalls("fb"), (Names{"start", "close"}));
  // c and the new frontends: built; c waits cold for a warm.
  EXPECT_EQ(State("c"), "inactive");
  EXPECT_EQ(TargetCalls("c"), Names{});
  EXPECT_EQ(FrontendCalls("fa2"), Names{"start"});
  EXPECT_EQ(FrontendCalls("fc"), Names{"start"});
  EXPECT_EQ(FrontendCalls("fa"), Names{"start"});
  // Back: fa2 removed, a's mapping for it goes and its flows are flushed.
  Write(Head() + targets +
        "frontends:\n"
        "  - {name: fa, kind: 'test:frontend', listen: '198.18.0.1:7000', flow_timeout: 60s,"
        " target: 'a:e'}\n");
  dp_.calls.clear();
  dp_.flushed_keys.clear();
  ASSERT_TRUE(engine_->Reload().applied);
  Settle();
  EXPECT_EQ(dp_.calls, (Names{"enable a", "flush 1"}));
  EXPECT_EQ(dp_.flushed_keys, Names{"udp 198.18.0.1:7002"});
  EXPECT_EQ(State("a"), "active");
}

TEST_F(EngineReloadTest, AnInvalidConfigIsRefusedWithLocatedErrorsAndNothingChanges) {
  Start(Head() + Targets() + kFrontends);
  WarmActive("a");
  Write(Head() + Targets("0s") + kFrontends +
        "  - {name: fx, kind: 'test:frontend', listen: '198.18.0.1:9', flow_timeout: 0s,"
        " target: 'a:e'}\n");
  ReloadReport r = engine_->Reload();
  EXPECT_FALSE(r.applied);
  const std::string file = (dir_ / "proxygw.yaml").string();
  EXPECT_EQ(r.errors,
            (Names{file + ":6:50: targets[0].idle_timeout: must be at least 1s, got \"0s\"",
                   file + ":11:77: frontends[2].flow_timeout: must be at least 1s, got \"0s\""}));
  Settle();
  EXPECT_EQ(State("a"), "active");
  EXPECT_EQ(TestPlugin().frontends.count("fx"), 0u);
}

TEST_F(EngineReloadTest, ARestartOnlySettingIsRefused) {
  Start(Head() + Targets() + kFrontends);
  Write(Head("elsewhere") + Targets() +
        "frontends:\n"
        "  - {name: fa, kind: 'test:frontend', listen: '198.18.0.1:7000', flow_timeout: 60s,"
        " target: 'a:e'}\n");
  ReloadReport r = engine_->Reload();
  EXPECT_FALSE(r.applied);
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_NE(r.errors[0].find("engine.state_dir: changed from"), std::string::npos) << r.errors[0];
  Settle();
  EXPECT_EQ(FrontendCalls("fb"), Names{"start"}) << "fb not removed";
}

TEST_F(EngineReloadTest, AShutdownDuringARetireWaitsForIt) {
  testing::TestPlugin().new_target = [](testing::ScriptedTarget::Script& s) {
    s.auto_complete = false;
  };
  Start(Head() + Targets() + kFrontends);
  ASSERT_TRUE(engine_->Warm("b").ok());
  TestPlugin().targets["b"][0]->Complete();
  ASSERT_TRUE(RunUntil([&] { return State("b") == "active"; }));
  Write(Head() + Targets().substr(0, Targets().find("  - {name: b")) +
        "frontends:\n"
        "  - {name: fa, kind: 'test:frontend', listen: '198.18.0.1:7000', flow_timeout: 60s,"
        " target: 'a:e'}\n");
  ASSERT_TRUE(engine_->Reload().applied);
  Settle();
  EXPECT_EQ(TargetCalls("b"), (Names{"adopt", "drain", "warm", "drain"}));
  bool done = false;
  engine_->Shutdown(Engine::ShutdownMode::kDrain, [&] { done = true; });
  Settle();
  TestPlugin().targets["a"][0]->Complete();  // a's close
  Settle();
  EXPECT_FALSE(done) << "b is still stopping";
  TestPlugin().targets["b"][0]->Complete();  // b's drain
  TestPlugin().targets["b"][0]->Complete();  // b's close
  ASSERT_TRUE(RunUntil([&] { return done; }));
  engine_.reset();
}

}  // namespace
}  // namespace engine
