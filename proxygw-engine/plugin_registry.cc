#include "proxygw-engine/plugin_registry.h"

#include <algorithm>

#include <boost/asio/io_context.hpp>

#include "proxygw-engine/reload_plan.h"
#include "proxygw-engine/state_store.h"

namespace engine {

namespace asio = boost::asio;

namespace {

std::string KnownList(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out.empty() ? "none" : out;
}

template <class Map>
std::vector<std::string> Names(const Map& m) {
  std::vector<std::string> out;
  for (const auto& [k, v] : m) out.push_back(k);
  return out;
}

class NoControl : public Control {
 public:
  StatusSnapshot Status() const override { return {}; }
  common::Status Warm(const std::string&) override {
    return common::Status::Unavailable("checking only");
  }
  common::Status Drain(const std::string&) override {
    return common::Status::Unavailable("checking only");
  }
  ReloadReport Reload() override { return {}; }
  common::Status SetRole(common::HaRole, common::HaRole*) override {
    return common::Status::Unavailable("checking only");
  }
};

}  // namespace

void PluginRegistry::Load(asio::io_context& io, Control& control, const config::Config& cfg,
                          const Logger& log, config::ErrorSink& errors, bool start) {
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
    for (auto& [kind, f] : ns.frontends) frontends_[std::string(e.ns) + ":" + kind] = std::move(f);
    for (auto& [kind, f] : ns.targets) targets_[std::string(e.ns) + ":" + kind] = std::move(f);
    if (instance) loaded_.emplace_back(&e, std::move(instance));
  }
  for (const auto& [ns, options] : cfg.plugins) {
    if (std::find(namespaces.begin(), namespaces.end(), ns) == namespaces.end()) {
      errors.Add(options.location, options.path,
                 "no plugin \"" + ns + "\" is compiled in (plugins: " + KnownList(namespaces) + ")");
    }
  }
}

const TargetFactory* PluginRegistry::TargetKind(const config::Target& t,
                                                config::ErrorSink& errors) const {
  auto it = targets_.find(t.kind.ToString());
  if (it != targets_.end()) return &it->second;
  errors.Add(t.at.At("kind"), t.path + ".kind",
             "unknown target kind \"" + t.kind.ToString() + "\" (known: " +
                 KnownList(Names(targets_)) + ")");
  return nullptr;
}

const FrontendFactory* PluginRegistry::FrontendKind(const config::Frontend& f,
                                                    config::ErrorSink& errors) const {
  auto it = frontends_.find(f.kind.ToString());
  if (it != frontends_.end()) return &it->second;
  errors.Add(f.at.At("kind"), f.path + ".kind",
             "unknown frontend kind \"" + f.kind.ToString() + "\" (known: " +
                 KnownList(Names(frontends_)) + ")");
  return nullptr;
}

void PluginRegistry::Unload() {
  for (auto it = loaded_.rbegin(); it != loaded_.rend(); ++it) it->second->Unload();
  loaded_.clear();
}

// Runs every kind's constructor on the config (each checks its options), and
// throws the handlers away.
void CheckPlugins(const config::Config& cfg, std::vector<config::ConfigError>* errors) {
  asio::io_context io;
  NoControl control;
  config::ErrorSink sink(cfg.file, errors);
  Logger log;
  PluginRegistry reg;
  reg.Load(io, control, cfg, log, sink, /*start=*/false);
  StateStore none("");
  for (const auto& t : cfg.targets) {
    if (const TargetFactory* factory = reg.TargetKind(t, sink)) {
      TargetContext ctx{io, t, log, none, [](const std::string&) {}};
      (void)(*factory)(ctx, sink);
    }
  }
  for (const auto& f : cfg.frontends) {
    if (const FrontendFactory* factory = reg.FrontendKind(f, sink)) {
      FrontendContext ctx{io, f, log, [] {}};
      ctx.keys = FrontendKeys(cfg, f);
      ctx.target = cfg.FindTarget(f.target);
      (void)(*factory)(ctx, sink);
    }
  }
}

config::LoadResult LoadAndCheck(const std::string& path) {
  config::LoadResult r = config::LoadConfigFile(path);
  if (r.ok()) {
    CheckPlugins(*r.config, &r.errors);
    config::SortErrors(&r.errors);
    if (!r.errors.empty()) r.config.reset();
  }
  if (r.ok()) DetachOptions(*r.config);
  return r;
}

// yaml-cpp keeps all the nodes of a document while any one of them lives, so
// one plugin's options kept every node of the file, lookups included (10 MB
// for 1,000 targets). Each gets a copy of its own; the copy has no line
// numbers, which only the check above reports.
void DetachOptions(config::Config& cfg) {
  auto detach = [](config::Options& o) {
    // reset, not =: assigning a node merges the two documents.
    if (o.node.IsDefined() && !o.node.IsNull()) o.node.reset(YAML::Clone(o.node));
  };
  for (auto& [ns, o] : cfg.plugins) detach(o);
  for (auto& t : cfg.targets) detach(t.options);
  for (auto& f : cfg.frontends) detach(f.options);
}

}  // namespace engine
