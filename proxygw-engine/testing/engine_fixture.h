// The fixture of the engine's tests with the fake dataplane and the "test"
// plugin's scripted handlers (testing/test_plugin.h): an engine started from a
// config file written in a temporary directory, stopped (draining) at the
// end. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <boost/asio/io_context.hpp>

#include "proxygw-engine/engine.h"
#include "proxygw-engine/plugin_registry.h"
#include "proxygw-engine/testing/fakes.h"
#include "proxygw-engine/testing/loop.h"
#include "proxygw-engine/testing/test_plugin.h"

namespace engine::testing {

namespace fs = std::filesystem;
using Names = std::vector<std::string>;

// Targets a (UDP: no readiness wait) and b; frontends fa -> a, fb -> b.
inline std::string Targets(const std::string& a_idle = "5m") {
  return "targets:\n"
         "  - {name: a, kind: 'test:target', idle_timeout: " +
         a_idle +
         ", endpoints: [{name: e, protocol: udp, address: '198.18.2.2:7000'}]}\n"
         "  - {name: b, kind: 'test:target', idle_timeout: 5m,"
         " endpoints: [{name: e, protocol: udp, address: '198.18.2.3:7000'}]}\n";
}
inline const std::string kFrontends =
    "frontends:\n"
    "  - {name: fa, kind: 'test:frontend', listen: '198.18.0.1:7000', flow_timeout: 60s,"
    " target: 'a:e'}\n"
    "  - {name: fb, kind: 'test:frontend', listen: '198.18.0.1:7001', flow_timeout: 60s,"
    " target: 'b:e'}\n";

class EngineTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("pgw-engine-" + std::to_string(getpid()) + "-" +
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

}  // namespace engine::testing
