#include "proxygw-engine/engine.h"

#include <algorithm>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <map>

#include "proxygw-engine/engine_impl.h"

namespace engine {

namespace asio = boost::asio;
using common::Status;

namespace {

std::string ErrorText(const std::vector<config::ConfigError>& errors) {
  std::string text;
  for (const auto& e : errors) text += (text.empty() ? "" : "\n") + e.ToString();
  return text;
}

}  // namespace

bool Engine::Impl::BuildTarget(const std::string& name, config::ErrorSink& errors) {
  TargetSlot& slot = targets.at(name);
  const config::Target& t = *slot.conf;
  const TargetFactory* factory = reg.TargetKind(t, errors);
  if (factory == nullptr) return false;
  const std::uint64_t serial = ++serials;
  Target::Hooks hooks;
  hooks.changed =
      Alive([this, name, serial](TargetState s) { OnTargetChanged(name, serial, s); });
  hooks.failed = Alive([this, name, serial] { OnTargetFailed(name, serial); });
  hooks.counters = &metrics.ForTarget(name);
  auto target = std::make_unique<Target>(io, t, TargetMappings(*current, name), dp,
                                         log.With({{"target", name}}), std::move(hooks));
  TargetContext ctx{io, t, log.With({{"target", name}}), state,
                    Alive([this, name, serial](const std::string& why) {
                      if (Target* target = FindTarget(name, serial)) target->OnBackendExited(why);
                    })};
  ctx.backend_started = Alive([this, name, serial] {
    if (FindTarget(name, serial) != nullptr) WarmSignal(name);
  });
  std::unique_ptr<TargetHandler> handler = (*factory)(ctx, errors);
  if (!handler) return false;
  target->SetHandler(std::move(handler));
  if (current->ha.enabled && !target->followable()) {
    log.Warn(
        "ha: a backup cannot tell whether this target's backend runs (no TCP endpoint, and its "
        "kind has no check): after a failover the new master starts it again at its first warm, "
        "even when it still runs; give it a TCP endpoint the backend opens, or, for static:exec, "
        "a check",
        {{"target", name}, {"kind", t.kind.ToString()}});
  }
  // A follower's targets follow from the start, a reload's new ones too.
  if (!Leading()) target->Follow();
  slot.target = std::move(target);
  slot.serial = serial;
  slot.error.clear();
  UpdateKeptWarm(name);
  return true;
}

bool Engine::Impl::BuildFrontend(const std::string& name, config::ErrorSink& errors) {
  FrontendSlot& slot = frontends.at(name);
  const config::Frontend& f = *slot.conf;
  const FrontendFactory* factory = reg.FrontendKind(f, errors);
  if (factory == nullptr) return false;
  auto fe = std::make_unique<Frontend>(f, log.With({{"frontend", name}}));
  FrontendContext ctx{io, f, log.With({{"frontend", name}}),
                      Alive([this, target = f.target] { WarmSignal(target); })};
  ctx.knock = [c = &metrics.ForFrontend(name)] { ++c->knocks; };
  ctx.dataplane = &dp;
  ctx.keys = FrontendKeys(*current, f);
  ctx.target = current->FindTarget(f.target);
  std::unique_ptr<FrontendHandler> handler = (*factory)(ctx, errors);
  if (!handler) return false;
  fe->SetHandler(std::move(handler));
  slot.frontend = std::move(fe);
  slot.error.clear();
  UpdateKeptWarm(f.target);
  return true;
}

// A target is kept warm while a built frontend of the running config that
// forwards to it says so (static:always); a reload may add or remove one.
void Engine::Impl::UpdateKeptWarm(const std::string& name) {
  auto it = targets.find(name);
  if (it == targets.end() || !it->second.target) return;
  std::string by;
  if (auto f = frontends_of.find(name); f != frontends_of.end()) {
    for (const auto& fname : f->second) {
      const FrontendSlot& slot = frontends.at(fname);
      if (slot.frontend && slot.frontend->handler() != nullptr &&
          slot.frontend->handler()->KeepsTargetWarm()) {
        by = fname;
        break;
      }
    }
  }
  if (by != it->second.target->kept_warm_by()) it->second.target->KeepWarm(by);
}

void Engine::Impl::PutFrontend(const std::string& name, FrontendSlot slot) {
  if (auto it = frontends.find(name); it != frontends.end()) (void)TakeFrontend(it);
  frontends_of[slot.conf->target].insert(name);
  frontends[name] = std::move(slot);
}

FrontendSlot Engine::Impl::TakeFrontend(std::map<std::string, FrontendSlot>::iterator it) {
  auto of = frontends_of.find(it->second.conf->target);
  if (of != frontends_of.end() && of->second.erase(it->first) && of->second.empty()) {
    frontends_of.erase(of);
  }
  FrontendSlot slot = std::move(it->second);
  frontends.erase(it);
  return slot;
}

std::vector<FrontendHandler*> Engine::Impl::HandlersOf(const std::string& name) {
  std::vector<FrontendHandler*> out;
  if (auto f = frontends_of.find(name); f != frontends_of.end()) {
    for (const auto& fname : f->second) {
      const FrontendSlot& slot = frontends.at(fname);
      if (slot.frontend && slot.frontend->handler() != nullptr) out.push_back(slot.frontend->handler());
    }
  }
  return out;
}

Status Engine::Impl::Build() {
  std::vector<config::ConfigError> errors;
  config::ErrorSink sink(current->file, &errors);
  reg.Load(io, self, *plugins_cfg, log, sink, /*start=*/true);
  for (const auto& t : current->targets) {
    targets[t.name] = TargetSlot{current, &t};
    (void)BuildTarget(t.name, sink);
  }
  for (const auto& f : current->frontends) {
    PutFrontend(f.name, FrontendSlot{current, &f});
    (void)BuildFrontend(f.name, sink);
  }
  if (!errors.empty()) {
    reg.Unload();
    return common::Status::InvalidArgument(ErrorText(errors));
  }
  return common::Status::Ok();
}

Target* Engine::Impl::FindTarget(const std::string& name, std::uint64_t serial) {
  if (auto it = targets.find(name); it != targets.end() && it->second.serial == serial) {
    return it->second.target.get();
  }
  if (auto it = retiring.find(name); it != retiring.end() && it->second.serial == serial) {
    return it->second.target.get();
  }
  return nullptr;
}

std::vector<Target*> Engine::Impl::AllTargets() {
  std::vector<Target*> out;
  for (auto& [name, slot] : targets) {
    if (slot.target) out.push_back(slot.target.get());
  }
  for (auto& [name, r] : retiring) out.push_back(r.target.get());
  return out;
}

// Records whether the target is active (an engine restart adopts it) or
// not; a closed target's backend was stopped. A retiring target records too:
// its successor starts inactive anyway.
void Engine::Impl::OnTargetChanged(const std::string& name, std::uint64_t serial, TargetState s) {
  if (auto it = retiring.find(name); it != retiring.end() && it->second.serial == serial) {
    // Not from inside the target's own state change: it goes on after this.
    if (s == TargetState::kInactive) {
      asio::post(io, Alive([this, name, serial] { ContinueRetiring(name, serial); }));
    }
  } else if (FindTarget(name, serial) == nullptr) {
    return;
  } else {
    if (s == TargetState::kActive) {
      warm_after_probe.erase(name);  // what asked for it is served
      for (FrontendHandler* h : HandlersOf(name)) h->OnTargetActive();
    }
    if (s == TargetState::kInactive && warm_after_drain.erase(name) && !closed) {
      // Posted: the target is still inside its own state change.
      asio::post(io, Alive([this, name] {
        if (closed) return;
        log.Info("warming again after the drain: clients knocked while it drained",
                 {{"target", name}});
        WarmSignal(name);
      }));
    }
    if (s == TargetState::kInactive && warm_after_probe.erase(name) && !closed) {
      asio::post(io, Alive([this, name] {
        if (closed) return;
        log.Info(
            "warming: clients asked for it while the promotion probe ran, and its backend does "
            "not run",
            {{"target", name}});
        WarmSignal(name);
      }));
    }
  }
  if (s == TargetState::kWarming || s == TargetState::kDraining) return;
  common::Status st = state.Set(name, "state", s == TargetState::kActive ? "active" : "inactive");
  if (!st.ok()) log.Warn("could not record target state, ignoring", {{"error", st.message()}});
}

void Engine::Impl::OnTargetFailed(const std::string& name, std::uint64_t serial) {
  auto it = targets.find(name);
  if (it == targets.end() || it->second.serial != serial) return;  // a retiring one
  for (FrontendHandler* h : HandlersOf(name)) h->OnTargetFailed();
}

void Engine::Impl::WarmSignal(const std::string& name) {
  if (closed) return;
  if (!Leading()) {
    log.Debug("warm signal ignored: not the HA master", {{"target", name}});
    return;
  }
  auto it = targets.find(name);
  if (it == targets.end()) return;
  TargetSlot& slot = it->second;
  if (!slot.target) {
    // Its predecessor is still draining: warmed once it is built.
    slot.warm_wanted = true;
    return;
  }
  if (slot.target->promoting()) {
    // Just promoted, and probing whether the backend runs: a warm now could
    // start it a second time. Warmed once the probe says it does not run.
    warm_after_probe.insert(name);
    log.Debug("warm signal held until the promotion probe answers", {{"target", name}});
    return;
  }
  common::Status st = slot.target->Warm();
  if (!st.ok()) log.Debug("warm signal ignored", {{"target", name}, {"reason", st.message()}});
}

void Engine::Impl::OnKnock(const ipc::netd::KnockPush& k) {
  if (closed || !Leading()) return;
  for (auto& [fname, slot] : frontends) {
    if (!slot.frontend || slot.frontend->handler() == nullptr) continue;
    auto keys = FrontendKeys(*current, *slot.conf);
    if (std::find(keys.begin(), keys.end(), k.key) == keys.end()) continue;
    if (!slot.frontend->handler()->OnKnock(k)) return;
    auto it = targets.find(slot.conf->target);
    if (it != targets.end() && it->second.target &&
        it->second.target->state() == TargetState::kDraining) {
      warm_after_drain.insert(slot.conf->target);
      return;
    }
    return WarmSignal(slot.conf->target);
  }
  log.Debug("knock for no frontend, ignoring", {{"key", k.key.ToString()}});
}

// Adopts what an engine restart left: active targets stay active, leftover
// backends of inactive ones are stopped.
void Engine::Impl::Adopt() {
  for (auto& [name, slot] : targets) {
    slot.target->AdoptAtStart(state.Get(name).value("state", "") == "active");
  }
}

Engine::Engine(asio::io_context& io, std::shared_ptr<const config::Config> cfg,
               Dataplane& dataplane)
    : impl_(std::make_unique<Impl>(io, std::move(cfg), dataplane, *this)) {}

Engine::~Engine() = default;

Status Engine::Start(const std::function<void()>& start_dataplane, std::function<void()> ready) {
  Impl& s = *impl_;
  if (common::Status st = s.state.Open(); !st.ok()) {
    return st.WithContext("engine.state_dir (targets cannot be adopted after a restart without it)");
  }
  s.dp.SetListener(Dataplane::Listener{
      s.Alive([this](bool connected) {
        impl_->log.Info(connected ? "dataplane connected" : "dataplane disconnected");
        for (Target* t : impl_->AllTargets()) t->OnConnectionChanged(connected);
      }),
      s.Alive([this] {
        for (Target* t : impl_->AllTargets()) t->OnCountsChanged();
      }),
      s.Alive([this](const std::string& owner, const common::Status& why) {
        // Only one target of a name may have forwarding on: the running one
        // or a retiring one. The other has nothing to drop.
        if (auto it = impl_->targets.find(owner); it != impl_->targets.end() && it->second.target) {
          it->second.target->OnForwardingRefused(why);
        }
        if (auto it = impl_->retiring.find(owner); it != impl_->retiring.end()) {
          it->second.target->OnForwardingRefused(why);
        }
      }),
      s.Alive([this](const ipc::netd::KnockPush& k) { impl_->OnKnock(k); })});
  s.dp.SetChangeObserver(
      s.Alive([this](double secs) { impl_->metrics.netd_change().Observe(secs); }));
  s.role = s.StartRole();
  if (common::Status st = s.Build(); !st.ok()) return st;
  // A follower takes nothing over: what runs is the master's.
  if (s.Leading()) s.Adopt();
  s.started = true;
  start_dataplane();
  // Frontends last; `ready` once each has started or failed.
  auto left = std::make_shared<std::size_t>(s.frontends.size());
  auto one_done = [left, ready](common::Status) {
    if (--*left == 0 && ready) ready();
  };
  if (s.frontends.empty()) {
    if (ready) asio::post(s.io, ready);
    return common::Status::Ok();
  }
  for (auto& [name, slot] : s.frontends) {
    common::Status st = slot.frontend->Start(one_done);
    if (!st.ok()) one_done(st);
  }
  return common::Status::Ok();
}

void Engine::Shutdown(ShutdownMode mode, std::function<void()> done) {
  Impl& s = *impl_;
  if (s.closed) return;
  s.closed = true;
  if (mode == ShutdownMode::kKeep) {
    s.log.Info(
        "shutting down for a restart: frontends, then plugins; targets, backends and "
        "forwarding are kept for the next engine");
  } else {
    s.log.Info("shutting down: frontends, then targets (backends stop), then plugins");
  }
  for (auto& [name, slot] : s.frontends) {
    if (slot.frontend) slot.frontend->Close();
  }
  auto finish = [this, done] {
    impl_->reg.Unload();
    impl_->log.Info("engine stopped");
    done();
  };
  if (mode == ShutdownMode::kKeep) return finish();
  // Every target closes, the running ones and those a reload is retiring.
  auto left = std::make_shared<std::size_t>(1);
  auto one_done = [left, finish] {
    if (--*left == 0) finish();
  };
  for (auto& [name, slot] : s.targets) {
    if (!slot.target) continue;
    ++*left;
    slot.target->Close([one_done](common::Status) { one_done(); });
  }
  std::vector<std::string> retiring;
  for (auto& [name, r] : s.retiring) retiring.push_back(name);
  for (const auto& name : retiring) {
    ++*left;
    s.retiring.at(name).closed.push_back(one_done);
    if (!s.retiring.at(name).closing) s.CloseRetiring(name);
  }
  one_done();
}

std::shared_ptr<const config::Config> Engine::config() const { return impl_->current; }

StatusSnapshot Engine::Status() const {
  const Impl& s = *impl_;
  StatusSnapshot snap;
  snap.closed = s.closed;
  snap.dataplane_connected = s.dp.connected();
  if (s.current->ha.enabled) snap.role = common::HaRoleName(s.role);
  for (const auto& [name, slot] : s.targets) {
    const config::Target& cfg = *slot.conf;
    // While its predecessor drains, the name shows the predecessor's state.
    const Target* t = slot.target.get();
    if (auto it = s.retiring.find(name); t == nullptr && it != s.retiring.end()) {
      t = it->second.target.get();
    }
    TargetStatus ts;
    ts.name = name;
    ts.kind = cfg.kind.ToString();
    if (t != nullptr) {
      ts.state = TargetStateName(t->state());
      ts.last_error = t->last_error();
      ts.kept_warm_by = t->kept_warm_by();
      if (t->following()) ts.follow = t->live() ? "live" : "down";
      if (s.dp.connected()) ts.flows = t->flows();
      ts.since = t->since();
    } else {
      ts.state = TargetStateName(TargetState::kInactive);
      ts.last_error = slot.error;
      ts.since = std::chrono::system_clock::now();
    }
    for (const auto& e : cfg.endpoints) {
      EndpointStatus es;
      es.name = e.name;
      es.protocol = e.protocol;
      for (const auto& a : e.addresses) es.addresses.push_back(a.ToString());
      ts.endpoints.push_back(std::move(es));
    }
    std::sort(ts.endpoints.begin(), ts.endpoints.end(),
              [](const auto& a, const auto& b) { return a.name < b.name; });
    snap.targets.push_back(std::move(ts));
  }
  for (const auto& [name, slot] : s.frontends) {
    const config::Frontend& c = *slot.conf;
    FrontendStatus fs;
    fs.name = name;
    fs.kind = c.kind.ToString();
    fs.state = FrontendStateName(slot.frontend ? slot.frontend->state() : FrontendState::kStopped);
    fs.last_error = slot.frontend ? slot.frontend->last_error() : slot.error;
    fs.protocol = c.protocol;
    fs.listen = c.listen.ToString();
    fs.target_name = c.target;
    fs.endpoint_name = c.endpoint;
    for (const auto& m : s.current->MappingsOf(c)) {
      fs.proxy_addresses.push_back(m.destination.ToString());
    }
    if (slot.frontend && slot.frontend->handler() != nullptr) {
      if (auto k = slot.frontend->handler()->KnockStats()) {
        fs.knocks = k->count;
        fs.last_knock_from = k->last_source;
      }
    }
    snap.frontends.push_back(std::move(fs));
  }
  return snap;
}

const Metrics* Engine::metrics() const { return &impl_->metrics; }

Status Engine::Warm(const std::string& name) {
  auto it = impl_->targets.find(name);
  if (it == impl_->targets.end()) return common::Status::NotFound("no target named \"" + name + "\"");
  if (impl_->closed) return common::Status::Unavailable("the engine is shutting down");
  if (!impl_->Leading()) return impl_->NotLeading();
  TargetSlot& slot = it->second;
  if (slot.target) return slot.target->Warm();
  if (!slot.error.empty()) return common::Status::Unavailable("target " + name + ": " + slot.error);
  slot.warm_wanted = true;  // warmed once its predecessor has drained
  return common::Status::Ok();
}

Status Engine::Drain(const std::string& name) {
  auto it = impl_->targets.find(name);
  if (it == impl_->targets.end()) return common::Status::NotFound("no target named \"" + name + "\"");
  if (impl_->closed) return common::Status::Unavailable("the engine is shutting down");
  if (!impl_->Leading()) return impl_->NotLeading();
  TargetSlot& slot = it->second;
  if (slot.target) return slot.target->Drain("ctl");
  slot.warm_wanted = false;
  return common::Status::Ok();
}

ReloadReport Engine::Reload() { return impl_->Reload(); }

}  // namespace engine
