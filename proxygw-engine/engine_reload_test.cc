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
#include "proxygw-engine/testing/engine_fixture.h"

namespace engine {
namespace {

namespace fs = std::filesystem;
using testing::kFrontends;
using testing::Names;
using testing::Targets;
using testing::TestPlugin;

class EngineReloadTest : public testing::EngineTest {};

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
