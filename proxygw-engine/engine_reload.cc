// Engine::Reload: reads the config file again, works out the plan
// (reload_plan.h) and applies it to the running targets and frontends; see
// engine.h for what happens to each. Event loop only.
#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "proxygw-engine/engine_impl.h"

namespace engine {

namespace asio = boost::asio;
using common::Status;

namespace {

// "a,b", or "-" for none.
std::string List(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ",") + n;
  return out.empty() ? "-" : out;
}

const config::Frontend* FindFrontend(const config::Config& cfg, const std::string& name) {
  for (const auto& f : cfg.frontends) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

}  // namespace

ReloadReport Engine::Impl::Reload() {
  if (!started || closed) {
    return Refuse({{current->file, {}, "", "the engine is not running (starting, or shutting down)"}},
                  "the engine is not running");
  }
  log.Info("reloading the config", {{"config", current->file}});
  config::LoadResult r = LoadAndCheck(current->file);
  if (!r.ok()) return Refuse(r.errors, "the new config is invalid");
  ConfigPtr next = std::make_shared<const config::Config>(std::move(*r.config));
  ReloadPlan plan = PlanReload(*current, *next);
  if (!plan.restart_only.empty()) {
    return Refuse(plan.restart_only, "it changes settings that only a restart applies");
  }
  // The new log output first: if it cannot be opened, nothing changes.
  if (common::Status st = SetUpLogging(next->log.output, next->log.level); !st.ok()) {
    return Refuse({{next->file, {}, "log.output", st.message()}},
                  "the new log output cannot be opened");
  }
  Apply(plan, next);
  LogPlan(plan);
  ReloadReport report;
  report.applied = true;
  report.targets = plan.targets;
  report.frontends = plan.frontends;
  report.remapped = plan.remapped;
  return report;
}

// The running config stays; the log output is reopened all the same (a
// SIGHUP after log rotation must not depend on the config being valid).
ReloadReport Engine::Impl::Refuse(const std::vector<config::ConfigError>& errors,
                                  const std::string& why) {
  if (common::Status st = SetUpLogging(current->log.output, current->log.level); !st.ok()) {
    log.Error("could not reopen the log output", {{"error", st.message()}});
  }
  ReloadReport report;
  for (const auto& e : errors) {
    report.errors.push_back(e.ToString());
    log.Error("config reload refused", {{"error", e.ToString()}});
  }
  log.Error("config reload refused: " + why + "; the running config stays",
            {{"config", current->file}, {"errors", std::to_string(errors.size())}});
  return report;
}

void Engine::Impl::LogPlan(const ReloadPlan& plan) {
  log.Info("config reloaded",
           {{"config", current->file},
            {"targets_added", List(plan.targets.added)},
            {"targets_removed", List(plan.targets.removed)},
            {"targets_changed", List(plan.targets.changed)},
            {"targets_unchanged", List(plan.targets.unchanged)},
            {"targets_remapped", List(plan.remapped)},
            {"frontends_added", List(plan.frontends.added)},
            {"frontends_removed", List(plan.frontends.removed)},
            {"frontends_changed", List(plan.frontends.changed)},
            {"frontends_unchanged", List(plan.frontends.unchanged)}});
}

// Order matters where two objects want the same thing: frontends leave
// before their replacements bind the same address, and a target's successor
// waits for it to close (same mappings, state record, backend files).
void Engine::Impl::Apply(const ReloadPlan& plan, ConfigPtr next) {
  current = std::move(next);
  for (const auto& name : plan.frontends.removed) CloseFrontend(name);
  // A replacement binds what its predecessor held (a listen address): it
  // starts once the old handler has closed.
  for (const auto& name : plan.frontends.changed) {
    CloseFrontend(name, [this, name, conf = FindFrontend(*current, name)] {
      asio::post(io, Alive([this, name, conf] {
        auto it = frontends.find(name);
        // Not if a later reload replaced it meanwhile.
        if (it != frontends.end() && it->second.conf == conf && !it->second.frontend) {
          StartFrontend(name);
        }
      }));
    });
  }
  for (const auto& name : plan.targets.removed) Retire(name);
  for (const auto& name : plan.targets.changed) Retire(name);
  for (const auto* names : {&plan.targets.changed, &plan.targets.added}) {
    for (const auto& name : *names) {
      targets[name] = TargetSlot{current, current->FindTarget(name)};
      BuildWaiting(name);
    }
  }
  for (const auto& name : plan.remapped) {
    TargetSlot& slot = targets.at(name);
    // One not built yet takes its mappings from the running config then.
    if (slot.target) slot.target->SetMappings(TargetMappings(*current, name));
  }
  for (const auto& name : plan.frontends.changed) {
    PutFrontend(name, FrontendSlot{current, FindFrontend(*current, name)});
  }
  for (const auto& name : plan.frontends.added) {
    PutFrontend(name, FrontendSlot{current, FindFrontend(*current, name)});
    StartFrontend(name);
  }
}

void Engine::Impl::Retire(const std::string& name) {
  auto it = targets.find(name);
  if (it == targets.end()) return;
  TargetSlot slot = std::move(it->second);
  targets.erase(it);
  // One never built runs nothing (a predecessor it waited for retires on).
  if (!slot.target) return;
  RetiringTarget& r = retiring[name];
  r.cfg = std::move(slot.cfg);
  r.target = std::move(slot.target);
  r.serial = slot.serial;
  (void)r.target->Drain("config reload");
  ContinueRetiring(name, r.serial);
}

// Once it is inactive (forwarding off and flushed, backend stopped) it
// closes; a draining one calls again when it gets there (OnTargetChanged).
void Engine::Impl::ContinueRetiring(const std::string& name, std::uint64_t serial) {
  auto it = retiring.find(name);
  if (it == retiring.end() || it->second.serial != serial || it->second.closing) return;
  if (it->second.target->state() != TargetState::kInactive) return;
  CloseRetiring(name);
}

void Engine::Impl::CloseRetiring(const std::string& name) {
  RetiringTarget& r = retiring.at(name);
  r.closing = true;
  r.target->Close([this, name, serial = r.serial](common::Status) {
    // Not from inside the target's own callback: it is destroyed next.
    asio::post(io, Alive([this, name, serial] { Retired(name, serial); }));
  });
}

void Engine::Impl::Retired(const std::string& name, std::uint64_t serial) {
  auto it = retiring.find(name);
  if (it == retiring.end() || it->second.serial != serial) return;
  std::vector<std::function<void()>> then = std::move(it->second.closed);
  retiring.erase(it);
  log.Info("retired target closed", {{"target", name}});
  for (auto& f : then) f();
  if (!closed) BuildWaiting(name);
}

void Engine::Impl::BuildWaiting(const std::string& name) {
  auto it = targets.find(name);
  if (it == targets.end() || it->second.target || retiring.count(name)) return;
  TargetSlot& slot = it->second;
  std::vector<config::ConfigError> errors;
  config::ErrorSink sink(slot.cfg->file, &errors);
  if (!BuildTarget(name, sink)) {
    slot.error = errors.empty() ? "could not be built" : errors.front().message;
    log.Error("could not build a target of the reloaded config", {{"target", name},
                                                                  {"error", slot.error}});
    return;
  }
  if (slot.warm_wanted) {
    slot.warm_wanted = false;
    common::Status st = slot.target->Warm();
    if (!st.ok()) log.Debug("warm signal ignored", {{"target", name}, {"reason", st.message()}});
  }
}

void Engine::Impl::CloseFrontend(const std::string& name, std::function<void()> then) {
  auto it = frontends.find(name);
  if (it == frontends.end()) return;
  FrontendSlot slot = TakeFrontend(it);
  UpdateKeptWarm(slot.conf->target);
  if (!slot.frontend) {
    if (then) then();
    return;
  }
  const std::uint64_t id = ++serials;
  Frontend* fe = slot.frontend.get();
  closing_frontends[id] = std::move(slot);
  fe->Close([this, id, then = std::move(then)] {
    asio::post(io, Alive([this, id] { closing_frontends.erase(id); }));
    if (then) then();
  });
}

void Engine::Impl::StartFrontend(const std::string& name) {
  FrontendSlot& slot = frontends.at(name);
  std::vector<config::ConfigError> errors;
  config::ErrorSink sink(slot.cfg->file, &errors);
  if (!BuildFrontend(name, sink)) {
    slot.error = errors.empty() ? "could not be built" : errors.front().message;
    log.Error("could not build a frontend of the reloaded config", {{"frontend", name},
                                                                    {"error", slot.error}});
    return;
  }
  // A frontend that fails to start logs it and stays stopped, as at start.
  (void)slot.frontend->Start();
}

}  // namespace engine
