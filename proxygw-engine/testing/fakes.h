// Fakes for the engine's unit tests: a Dataplane that records requests and
// answers as the test says (at once, or later in the order the test stages),
// and target/frontend handlers whose calls the test completes by hand (to
// stage the original's "blocked Warm" races). Test-only.
#pragma once

#include <chrono>
#include <deque>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "proxygw-engine/dataplane.h"
#include "proxygw-engine/plugin_api.h"

namespace engine::testing {

class FakeDataplane : public Dataplane {
 public:
  void SetListener(Listener l) override { listener = std::move(l); }
  bool connected() const override { return is_connected; }
  void Enable(const std::string& owner, const std::vector<ipc::netd::Mapping>& m, Done done) override {
    Answer(
        "enable " + owner, enable_result, [this, owner, m] { enabled[owner] = m; },
        std::move(done));
  }
  void Disable(const std::string& owner, Done done) override {
    Answer(
        "disable " + owner, disable_result, [this, owner] { enabled.erase(owner); },
        std::move(done));
  }
  void Flush(const std::vector<ipc::netd::MappingKey>& keys, Done done) override {
    for (const auto& k : keys) flushed_keys.push_back(k.ToString());
    Answer(
        "flush " + std::to_string(keys.size()), flush_result, [] {}, std::move(done));
  }
  void Preset(const std::string& owner, const std::vector<ipc::netd::Mapping>& m) override {
    calls.push_back("preset " + owner);
    enabled[owner] = m;
  }
  common::Status SetHolds(const std::string& owner,
                          const std::vector<ipc::netd::Hold>& hs) override {
    calls.push_back("holds " + owner + " " + std::to_string(hs.size()));
    if (!holds_result.ok()) return holds_result;
    if (hs.empty()) {
      holds.erase(owner);
    } else {
      holds[owner] = hs;
    }
    return common::Status::Ok();
  }
  void Release(const std::vector<ipc::netd::MappingKey>& keys) override {
    for (const auto& k : keys) calls.push_back("release " + k.ToString());
  }
  // Pushes a knock for `key` from `source` as netd would.
  void Knock(const ipc::netd::MappingKey& key, const std::string& source) {
    if (listener.knocked) listener.knocked({key, *common::IpAddress::Parse(source), 1});
  }
  std::uint32_t Flows(ipc::netd::Proto p, const common::AddrPort& d) const override {
    auto it = flows.find({p, d.ToString()});
    return it == flows.end() ? 0 : it->second;
  }

  // Test controls.
  void SetFlows(ipc::netd::Proto p, const std::string& dest, std::uint32_t n) {
    flows[{p, dest}] = n;
    if (listener.counts_changed) listener.counts_changed();
  }
  void SetConnected(bool c) {
    is_connected = c;
    if (listener.connection_changed) listener.connection_changed(c);
  }
  // With `async`, requests wait in `pending` until Complete releases them,
  // in whatever order the test stages; without, each completes at once.
  // Completes the oldest pending request named `call` ("enable backend",
  // "disable backend", "flush 1") with `st`, or with the result configured
  // when it was made. False when no such request is pending.
  bool Complete(const std::string& call, std::optional<common::Status> st = std::nullopt) {
    for (auto it = pending.begin(); it != pending.end(); ++it) {
      if (it->call != call) continue;
      Pending p = std::move(*it);
      pending.erase(it);
      p.complete(st.value_or(p.configured));
      return true;
    }
    return false;
  }

  struct Pending {
    std::string call;
    common::Status configured;
    std::function<void(common::Status)> complete;
  };

  Listener listener;
  bool is_connected = true;
  bool async = false;
  std::deque<Pending> pending;
  common::Status enable_result;
  common::Status disable_result;
  common::Status flush_result;
  common::Status holds_result;
  std::map<std::string, std::vector<ipc::netd::Hold>> holds;
  std::map<std::string, std::vector<ipc::netd::Mapping>> enabled;
  std::map<std::pair<ipc::netd::Proto, std::string>, std::uint32_t> flows;
  std::vector<std::string> calls;
  std::vector<std::string> flushed_keys;  // every key a Flush named, in order

 private:
  // Records `call`; applies `effect` and completes `done` with `result`, now
  // or when the test says.
  void Answer(std::string call, common::Status result, std::function<void()> effect, Done done) {
    calls.push_back(call);
    auto complete = [effect = std::move(effect), done = std::move(done)](common::Status st) {
      if (st.ok()) effect();
      done(std::move(st));
    };
    if (!async) return complete(result);
    pending.push_back({std::move(call), std::move(result), std::move(complete)});
  }
};

// What a scripted handler was asked, and the calls it has not completed.
struct CallScript {
  std::vector<std::string> calls;     // e.g. "warm", "drain", "close"
  std::deque<Done> pending;           // calls not completed yet
  bool auto_complete = true;          // complete each call at once with `result`
  common::Status result;
  void Complete(common::Status st = common::Status::Ok()) {
    auto d = std::move(pending.front());
    pending.pop_front();
    d(std::move(st));
  }
  // Records `what`; completes `d` now (auto_complete) or keeps it for Complete().
  void Call(const char* what, Done d) {
    calls.push_back(what);
    if (auto_complete) {
      d(result);
    } else {
      pending.push_back(std::move(d));
    }
  }
};

// A target handler whose Warm/Drain/Close complete when the test says.
class ScriptedTarget : public TargetHandler {
 public:
  struct Script : CallScript {
    bool adopt = true;
    // HA: the kind's check (RunningCheckInterval, CheckRunning). None by
    // default: the kind cannot tell.
    std::optional<std::chrono::seconds> check_interval;
    common::Status running;  // what a check answers (ok: the backend runs)
    bool check_auto = true;  // answer each check at once; else keep it in `checks_pending`
    int checks = 0;          // checks asked for
    std::deque<Done> checks_pending;
    void AnswerCheck(common::Status st) {
      auto d = std::move(checks_pending.front());
      checks_pending.pop_front();
      d(std::move(st));
    }
  };
  explicit ScriptedTarget(Script* s) : s_(s) {}
  void Warm(Done d) override { s_->Call("warm", std::move(d)); }
  void Drain(Done d) override { s_->Call("drain", std::move(d)); }
  void Close(Done d) override { s_->Call("close", std::move(d)); }
  bool Adopt() override {
    s_->calls.push_back("adopt");
    return s_->adopt;
  }
  void TakeOver() override { s_->calls.push_back("take-over"); }
  void Release() override { s_->calls.push_back("release"); }
  std::optional<std::chrono::seconds> RunningCheckInterval() const override {
    return s_->check_interval;
  }
  void CheckRunning(Done d) override {
    ++s_->checks;
    if (s_->check_auto) return d(s_->running);
    s_->checks_pending.push_back(std::move(d));
  }

 private:
  Script* s_;
};

// A frontend handler whose Start/Stop complete when the test says.
class ScriptedFrontend : public FrontendHandler {
 public:
  using Script = CallScript;
  explicit ScriptedFrontend(Script* s) : s_(s) {}
  void Start(Done d) override { s_->Call("start", std::move(d)); }
  void Stop(Done d) override { s_->Call("stop", std::move(d)); }
  void Close() override { s_->calls.push_back("close"); }
  void OnTargetFailed() override { s_->calls.push_back("target-failed"); }

 private:
  Script* s_;
};

}  // namespace engine::testing
