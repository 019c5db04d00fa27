// The engine's state, shared by engine.cc (building, start, shutdown, status,
// warm, drain) and engine_reload.cc (applying a config reload). Internal to
// proxygw-engine/engine.*.
//
// Config ownership: the engine holds the running config (`current`, the one
// it started with or the last reload applied) and every object holds the
// config it was built from (its slot's `cfg`), because Target, Frontend and
// their handlers keep references into it. An object a reload leaves unchanged
// keeps its older config alive; a config is freed once no object refers to
// it. The plugins keep the config they were loaded with (`plugins_cfg`).
//
// Objects are found by name (and a target's calls by name and serial), never
// by pointer, from callbacks that may outlive them: a reload replaces and
// destroys targets and frontends while the engine runs.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "proxygw-engine/engine.h"
#include "proxygw-engine/frontend.h"
#include "proxygw-engine/log.h"
#include "proxygw-engine/metrics.h"
#include "proxygw-engine/plugin_registry.h"
#include "proxygw-engine/reload_plan.h"
#include "proxygw-engine/state_store.h"
#include "proxygw-engine/target.h"

namespace engine {

using ConfigPtr = std::shared_ptr<const config::Config>;

// A target of the running config.
struct TargetSlot {
  TargetSlot() = default;
  TargetSlot(ConfigPtr c, const config::Target* t) : cfg(std::move(c)), conf(t) {}
  ConfigPtr cfg;                       // the config `conf` is in
  const config::Target* conf = nullptr;
  // Null until built: a replaced target's successor waits until its
  // predecessor (retiring, same name) has closed, since both would own the
  // same mappings, state record and backend files. Null also when its kind
  // failed to build (`error`).
  std::unique_ptr<Target> target;
  std::uint64_t serial = 0;  // of `target`, told apart from a predecessor's
  bool warm_wanted = false;  // a warm asked for while not built
  std::string error;
};

// A target a reload removed or replaced: draining (forwarding off, flows
// flushed, backend stopped), then closing; destroyed once closed.
struct RetiringTarget {
  ConfigPtr cfg;
  std::unique_ptr<Target> target;
  std::uint64_t serial = 0;
  bool closing = false;
  std::vector<std::function<void()>> closed;  // run once it has closed
};

// A frontend of the running config (or one a reload took away, until its
// handler has closed).
struct FrontendSlot {
  FrontendSlot() = default;
  FrontendSlot(ConfigPtr c, const config::Frontend* f) : cfg(std::move(c)), conf(f) {}
  ConfigPtr cfg;
  const config::Frontend* conf = nullptr;
  std::unique_ptr<Frontend> frontend;  // null when its kind failed to build
  std::string error;
};

struct Engine::Impl {
  boost::asio::io_context& io;
  ConfigPtr current;
  ConfigPtr plugins_cfg;
  Dataplane& dp;
  Engine& self;
  Logger log;
  StateStore state;
  Metrics metrics;  // before targets and frontends, which count into it: it outlives them
  PluginRegistry reg;
  std::map<std::string, TargetSlot> targets;
  std::map<std::string, RetiringTarget> retiring;  // at most one per name
  std::map<std::string, FrontendSlot> frontends;  // changed only by Put/TakeFrontend
  // The names in `frontends` by their target: a target's state change
  // reaches its frontends without a walk over all of them.
  std::map<std::string, std::set<std::string>> frontends_of;
  std::map<std::uint64_t, FrontendSlot> closing_frontends;
  std::uint64_t serials = 0;
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  std::set<std::string> warm_after_drain;  // targets a knock found draining
  // Targets a warm signal found promoting (Target::promoting): warmed if the
  // probe finds their backend not running.
  std::set<std::string> warm_after_probe;
  bool started = false;
  bool closed = false;
  // The node's HA role (docs/ha.md); always master without an ha section.
  common::HaRole role = common::HaRole::kMaster;

  Impl(boost::asio::io_context& i, ConfigPtr c, Dataplane& d, Engine& e)
      : io(i), current(c), plugins_cfg(c), dp(d), self(e), state(c->engine.state_dir) {}

  // Wraps a callback so that it does nothing once the engine is gone.
  template <class F>
  auto Alive(F f) {
    return [w = std::weak_ptr<bool>(alive), f = std::move(f)](auto&&... a) {
      if (w.lock()) f(std::forward<decltype(a)>(a)...);
    };
  }

  // --- engine.cc ---
  common::Status Build();
  // Builds the target of slot `name` from its config, with the mappings the
  // running config gives it. False, with errors in `errors`, when its kind
  // cannot be built.
  bool BuildTarget(const std::string& name, config::ErrorSink& errors);
  bool BuildFrontend(const std::string& name, config::ErrorSink& errors);
  // Sets frontend `name`'s slot, replacing the one it had.
  void PutFrontend(const std::string& name, FrontendSlot slot);
  // Removes frontend `it` and returns its slot.
  FrontendSlot TakeFrontend(std::map<std::string, FrontendSlot>::iterator it);
  // The built frontends of target `name` that have a handler, by name.
  std::vector<FrontendHandler*> HandlersOf(const std::string& name);
  // Tells target `name` which frontend keeps it warm, if any (KeepWarm).
  void UpdateKeptWarm(const std::string& name);
  // The built target `name` of this serial: the running one or a retiring one.
  Target* FindTarget(const std::string& name, std::uint64_t serial);
  // Every built target, running and retiring.
  std::vector<Target*> AllTargets();
  void OnTargetChanged(const std::string& name, std::uint64_t serial, TargetState s);
  void OnTargetFailed(const std::string& name, std::uint64_t serial);
  // A frontend of target `name` asks for it to warm.
  void WarmSignal(const std::string& name);
  // netd holds packets for `k.key`: the frontend of that key decides whether
  // its target warms.
  void OnKnock(const ipc::netd::KnockPush& k);
  void Adopt();
  // --- engine_role.cc ---
  // The role at start (see Engine::SetRole), logged.
  common::HaRole StartRole();
  bool Leading() const { return role == common::HaRole::kMaster; }
  // Unavailable: a warm or drain asked of a follower.
  common::Status NotLeading() const;

  // --- engine_reload.cc ---
  ReloadReport Reload();
  ReloadReport Refuse(const std::vector<config::ConfigError>& errors, const std::string& why);
  void Apply(const ReloadPlan& plan, ConfigPtr next);
  void LogPlan(const ReloadPlan& plan);
  // Takes target `name` out of the running set: drained, then closed.
  void Retire(const std::string& name);
  void ContinueRetiring(const std::string& name, std::uint64_t serial);
  void CloseRetiring(const std::string& name);
  void Retired(const std::string& name, std::uint64_t serial);
  // Builds target `name` if it waits and nothing of its name is retiring.
  void BuildWaiting(const std::string& name);
  // Takes frontend `name` out of the running set: closed, then destroyed.
  // `then` runs once its handler has closed (perhaps at once).
  void CloseFrontend(const std::string& name, std::function<void()> then = nullptr);
  void StartFrontend(const std::string& name);
};

}  // namespace engine
