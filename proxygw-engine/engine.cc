#include "proxygw-engine/engine.h"

#include <algorithm>
#include <map>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>

#include "proxygw-engine/config/netd_policy.h"
#include "proxygw-engine/frontend.h"
#include "proxygw-engine/log.h"
#include "proxygw-engine/plugin_api.h"
#include "proxygw-engine/state_store.h"
#include "proxygw-engine/target.h"

namespace engine {

namespace asio = boost::asio;
using common::Status;

namespace {

std::string KnownList(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

// The kinds of every plugin, loaded for checking or for running.
struct Registry {
  std::map<std::string, FrontendFactory> frontends;  // "ns:kind"
  std::map<std::string, TargetFactory> targets;
  std::vector<std::pair<const PluginEntry*, std::unique_ptr<PluginInstance>>> loaded;

  void Load(asio::io_context& io, Control& control, const config::Config& cfg, const Logger& log,
            config::ErrorSink& errors, bool start) {
    std::vector<std::string> namespaces;
    for (std::size_t i = 0; i < kPluginCount; ++i) {
      const PluginEntry& e = kPlugins[i];
      namespaces.push_back(e.ns);
      PluginContext ctx{io, control, cfg, cfg.PluginOptions(e.ns), e.ns, log.With({{"plugin", e.ns}})};
      Namespace ns;
      std::unique_ptr<PluginInstance> instance;
      std::size_t before = errors.count();
      e.def->load(ctx, ns, errors, start, &instance);
      if (errors.count() != before) continue;
      for (auto& [kind, f] : ns.frontends) frontends[std::string(e.ns) + ":" + kind] = std::move(f);
      for (auto& [kind, f] : ns.targets) targets[std::string(e.ns) + ":" + kind] = std::move(f);
      if (instance) loaded.emplace_back(&e, std::move(instance));
    }
    for (const auto& [ns, options] : cfg.plugins) {
      if (std::find(namespaces.begin(), namespaces.end(), ns) == namespaces.end()) {
        errors.Add(options.location, options.path,
                   "no plugin \"" + ns + "\" is compiled in (plugins: " + KnownList(namespaces) + ")");
      }
    }
  }

  template <class Map>
  static std::vector<std::string> Names(const Map& m) {
    std::vector<std::string> out;
    for (const auto& [k, v] : m) out.push_back(k);
    return out;
  }

  void Unload() {
    for (auto it = loaded.rbegin(); it != loaded.rend(); ++it) it->second->Unload();
    loaded.clear();
  }
};

class NoControl : public Control {
 public:
  StatusSnapshot Status() const override { return {}; }
  common::Status Warm(const std::string&) override { return Status::Unavailable("checking only"); }
  common::Status Drain(const std::string&) override { return Status::Unavailable("checking only"); }
};

// Runs every kind's constructor on the config; adds errors for unknown kinds.
// Handlers are built (and, when checking, thrown away).
template <class Build>
void ForEachKind(const config::Config& cfg, Registry& reg, config::ErrorSink& errors, Build build) {
  for (const auto& t : cfg.targets) {
    auto it = reg.targets.find(t.kind.ToString());
    if (it == reg.targets.end()) {
      errors.Add(t.at.At("kind"), t.path + ".kind",
                 "unknown target kind \"" + t.kind.ToString() +
                     "\" (known: " + KnownList(Registry::Names(reg.targets)) + ")");
      continue;
    }
    build(t, it->second);
  }
  for (const auto& f : cfg.frontends) {
    auto it = reg.frontends.find(f.kind.ToString());
    if (it == reg.frontends.end()) {
      errors.Add(f.at.At("kind"), f.path + ".kind",
                 "unknown frontend kind \"" + f.kind.ToString() +
                     "\" (known: " + KnownList(Registry::Names(reg.frontends)) + ")");
      continue;
    }
    build(f, it->second);
  }
}

}  // namespace

void CheckPlugins(const config::Config& cfg, std::vector<config::ConfigError>* errors) {
  asio::io_context io;
  NoControl control;
  config::ErrorSink sink(cfg.file, errors);
  Logger log;
  Registry reg;
  reg.Load(io, control, cfg, log, sink, /*start=*/false);
  StateStore none("");
  ForEachKind(cfg, reg, sink, [&](const auto& obj, const auto& factory) {
    using T = std::decay_t<decltype(obj)>;
    if constexpr (std::is_same_v<T, config::Target>) {
      TargetContext ctx{io, obj, log, none, [](const std::string&) {}};
      (void)factory(ctx, sink);
    } else {
      FrontendContext ctx{io, obj, log, [] {}};
      (void)factory(ctx, sink);
    }
  });
}

struct Engine::Impl {
  asio::io_context& io;
  const config::Config& cfg;
  Dataplane& dp;
  Engine& self;
  Logger log;
  StateStore state;
  Registry reg;
  std::map<std::string, std::unique_ptr<Target>> targets;
  std::map<std::string, std::unique_ptr<Frontend>> frontends;
  std::map<std::string, std::vector<Frontend*>> frontends_of;  // target -> its frontends
  std::shared_ptr<bool> alive = std::make_shared<bool>(true);
  bool closed = false;

  Impl(asio::io_context& i, const config::Config& c, Dataplane& d, Engine& e)
      : io(i), cfg(c), dp(d), self(e), state(c.engine.state_dir) {}

  // Wraps a callback so that it does nothing once the engine is gone.
  template <class F>
  auto Alive(F f) {
    return [w = std::weak_ptr<bool>(alive), f = std::move(f)](auto&&... a) {
      if (w.lock()) f(std::forward<decltype(a)>(a)...);
    };
  }

  // Records whether the target is active (an engine restart adopts it) or
  // not; a closed target's backend was stopped.
  void OnTargetChanged(const std::string& name, TargetState s) {
    if (s == TargetState::kWarming || s == TargetState::kDraining) return;
    common::Status st = state.Set(name, "state", s == TargetState::kActive ? "active" : "inactive");
    if (!st.ok()) log.Warn("could not record target state, ignoring", {{"error", st.message()}});
  }

  void OnTargetFailed(const std::string& name) {
    for (Frontend* f : frontends_of[name]) {
      if (f->handler() != nullptr) f->handler()->OnTargetFailed();
    }
  }

  common::Status Build() {
    std::vector<config::ConfigError> errors;
    config::ErrorSink sink(cfg.file, &errors);
    reg.Load(io, self, cfg, log, sink, /*start=*/true);
    for (const auto& t : cfg.targets) {
      std::vector<ipc::netd::Mapping> mappings;
      for (const auto& f : cfg.frontends) {
        if (f.target != t.name) continue;
        for (const auto& m : cfg.MappingsOf(f)) mappings.push_back(config::ToNetd(m));
      }
      std::string name = t.name;
      Target::Hooks hooks;
      hooks.changed = Alive([this, name](TargetState s) { OnTargetChanged(name, s); });
      hooks.failed = Alive([this, name] { OnTargetFailed(name); });
      targets[name] = std::make_unique<Target>(io, t, std::move(mappings), dp,
                                               log.With({{"target", name}}), std::move(hooks));
    }
    for (const auto& f : cfg.frontends) {
      auto fe = std::make_unique<Frontend>(f, log.With({{"frontend", f.name}}));
      frontends_of[f.target].push_back(fe.get());
      frontends[f.name] = std::move(fe);
    }
    ForEachKind(cfg, reg, sink, [&](const auto& obj, const auto& factory) {
      using T = std::decay_t<decltype(obj)>;
      if constexpr (std::is_same_v<T, config::Target>) {
        Target* target = targets.at(obj.name).get();
        TargetContext ctx{io, obj, log.With({{"target", obj.name}}), state,
                          Alive([target](const std::string& why) { target->OnBackendExited(why); })};
        if (auto h = factory(ctx, sink)) target->SetHandler(std::move(h));
      } else {
        Target* target = targets.at(obj.target).get();
        FrontendContext ctx{io, obj, log.With({{"frontend", obj.name}}), Alive([target, this] {
                              if (closed) return;
                              common::Status st = target->Warm();
                              if (!st.ok()) log.Debug("warm signal ignored", {{"target", target->name()},
                                                                             {"reason", st.message()}});
                            })};
        if (auto h = factory(ctx, sink)) {
          if (h->KeepsTargetWarm()) target->KeepWarm(obj.name);
          frontends.at(obj.name)->SetHandler(std::move(h));
        }
      }
    });
    if (!errors.empty()) {
      std::string text;
      for (const auto& e : errors) text += (text.empty() ? "" : "\n") + e.ToString();
      reg.Unload();
      return common::Status::InvalidArgument(text);
    }
    return common::Status::Ok();
  }

  // Adopts what an engine restart left: active targets stay active, leftover
  // backends of inactive ones are stopped.
  void Adopt() {
    for (auto& [name, t] : targets) t->AdoptAtStart(state.Get(name).value("state", "") == "active");
  }
};

Engine::Engine(asio::io_context& io, const config::Config& cfg, Dataplane& dataplane)
    : impl_(std::make_unique<Impl>(io, cfg, dataplane, *this)) {}

Engine::~Engine() = default;

common::Status Engine::Start(const std::function<void()>& start_dataplane, std::function<void()> ready) {
  Impl& s = *impl_;
  if (common::Status st = s.state.Open(); !st.ok()) {
    return st.WithContext("engine.state_dir (targets cannot be adopted after a restart without it)");
  }
  s.dp.SetListener(Dataplane::Listener{
      s.Alive([this](bool connected) {
        impl_->log.Info(connected ? "dataplane connected" : "dataplane disconnected");
        for (auto& [n, t] : impl_->targets) t->OnConnectionChanged(connected);
      }),
      s.Alive([this] {
        for (auto& [n, t] : impl_->targets) t->OnCountsChanged();
      }),
      s.Alive([this](const std::string& owner, const common::Status& why) {
        auto it = impl_->targets.find(owner);
        if (it != impl_->targets.end()) it->second->OnForwardingRefused(why);
      })});
  if (common::Status st = s.Build(); !st.ok()) return st;
  s.Adopt();
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
  for (auto& [name, f] : s.frontends) {
    common::Status st = f->Start(one_done);
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
  for (auto& [name, f] : s.frontends) f->Close();
  auto left = std::make_shared<std::size_t>(s.targets.size());
  auto finish = [this, done] {
    impl_->reg.Unload();
    impl_->log.Info("engine stopped");
    done();
  };
  if (s.targets.empty() || mode == ShutdownMode::kKeep) return finish();
  for (auto& [name, t] : s.targets) {
    t->Close([left, finish](common::Status) {
      if (--*left == 0) finish();
    });
  }
}

StatusSnapshot Engine::Status() const {
  const Impl& s = *impl_;
  StatusSnapshot snap;
  snap.closed = s.closed;
  snap.dataplane_connected = s.dp.connected();
  for (const auto& [name, t] : s.targets) {
    const config::Target* cfg = s.cfg.FindTarget(name);
    TargetStatus ts;
    ts.name = name;
    ts.kind = cfg->kind.ToString();
    ts.state = TargetStateName(t->state());
    ts.last_error = t->last_error();
    ts.kept_warm_by = t->kept_warm_by();
    if (s.dp.connected()) ts.flows = t->flows();
    ts.since = t->since();
    for (const auto& e : cfg->endpoints) {
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
  for (const auto& [name, f] : s.frontends) {
    const config::Frontend& c = f->config();
    FrontendStatus fs;
    fs.name = name;
    fs.kind = c.kind.ToString();
    fs.state = FrontendStateName(f->state());
    fs.last_error = f->last_error();
    fs.protocol = c.protocol;
    fs.listen = c.listen.ToString();
    fs.target_name = c.target;
    fs.endpoint_name = c.endpoint;
    for (const auto& m : s.cfg.MappingsOf(c)) fs.proxy_addresses.push_back(m.destination.ToString());
    snap.frontends.push_back(std::move(fs));
  }
  return snap;
}

common::Status Engine::Warm(const std::string& name) {
  auto it = impl_->targets.find(name);
  if (it == impl_->targets.end()) return common::Status::NotFound("no target named \"" + name + "\"");
  if (impl_->closed) return common::Status::Unavailable("the engine is shutting down");
  return it->second->Warm();
}

common::Status Engine::Drain(const std::string& name) {
  auto it = impl_->targets.find(name);
  if (it == impl_->targets.end()) return common::Status::NotFound("no target named \"" + name + "\"");
  if (impl_->closed) return common::Status::Unavailable("the engine is shutting down");
  return it->second->Drain("ctl");
}

}  // namespace engine
