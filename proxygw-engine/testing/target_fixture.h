// The fixture of the target state machine's tests: one target "backend"
// with one mapping, a fake dataplane (wired to the target as the engine wires
// the real one) and a scripted handler. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "proxygw-engine/config/loader.h"
#include "proxygw-engine/target.h"
#include "proxygw-engine/testing/fakes.h"
#include "proxygw-engine/testing/loop.h"

namespace engine::testing {

inline config::Config LoadOk(const std::string& yaml) {
  auto r = config::LoadConfigString(yaml, "t.yaml");
  EXPECT_TRUE(r.ok()) << r.ErrorText();
  return *r.config;
}

// One target "backend" with a UDP endpoint (no readiness wait) unless `tcp`.
inline std::string Yaml(const std::string& endpoint, const std::string& idle = "30s",
                        const std::string& ready = "2s") {
  return "version: v1\nlog: {output: stderr}\nplugins: {}\n"
         "targets:\n  - {name: backend, kind: 'test:target', idle_timeout: " +
         idle + ", ready_timeout: " + ready + ", endpoints: [" + endpoint +
         "]}\n"
         "frontends:\n  - {name: listener, kind: 'test:frontend', listen: '198.18.0.1:8080', "
         "flow_timeout: 15s, target: 'backend:e'}\n";
}
inline const std::string kUdp = "{name: e, protocol: udp, address: '198.18.2.2:8080'}";

class TargetTest : public ::testing::Test {
 protected:
  void Make(const std::string& yaml) {
    cfg_ = LoadOk(yaml);
    ipc::netd::Mapping m;
    m.key = {cfg_.frontends[0].protocol == config::Protocol::kTcp ? ipc::netd::Proto::kTcp
                                                                  : ipc::netd::Proto::kUdp,
             cfg_.frontends[0].listen.address, cfg_.frontends[0].listen.port};
    m.destination = cfg_.targets[0].endpoints[0].addresses[0];
    m.flow_timeout_s = 15;
    // The engine forwards the dataplane's news to its targets; so does this test.
    dp_.SetListener({[this](bool c) { target_->OnConnectionChanged(c); },
                     [this] { target_->OnCountsChanged(); },
                     [this](const std::string&, const common::Status& why) {
                       target_->OnForwardingRefused(why);
                     }});
    Target::Hooks hooks;
    hooks.failed = [this] { ++failed_; };
    hooks.changed = [this](TargetState s) { changes_.push_back(TargetStateName(s)); };
    target_ = std::make_unique<Target>(io_, cfg_.targets[0], std::vector{m}, dp_, Logger(), hooks);
    target_->SetHandler(std::make_unique<ScriptedTarget>(&script_));
  }
  // Runs the loop until `pred` or a generous bound.
  template <class P>
  bool RunUntil(P pred, std::chrono::milliseconds bound = std::chrono::seconds(10)) {
    return testing::RunUntil(io_, pred, bound);
  }
  void Settle() {
    io_.restart();
    io_.poll();
  }
  void MakeActive() {
    ASSERT_TRUE(target_->Warm().ok());
    ASSERT_TRUE(RunUntil([&] { return target_->state() == TargetState::kActive; }));
  }

  boost::asio::io_context io_;
  config::Config cfg_;
  FakeDataplane dp_;
  ScriptedTarget::Script script_;
  std::unique_ptr<Target> target_;
  int failed_ = 0;
  std::vector<std::string> changes_;
};

}  // namespace engine::testing
