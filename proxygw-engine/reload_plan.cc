#include "proxygw-engine/reload_plan.h"

#include <algorithm>
#include <map>
#include <regex>
#include <set>

#include "proxygw-engine/config/netd_policy.h"

namespace engine {
namespace {

using ipc::netd::Mapping;

// Nodes a comparison may visit: more than any sane config, far fewer than an
// alias bomb expands to (the loader bounds the reading, not the expansion).
constexpr std::size_t kCompareBudget = 1'000'000;

// What a scalar means besides its text: a quoted scalar (tag "!") is a
// string, as is a plain one that the YAML core schema does not read as null,
// bool, int or float; an explicit tag stands for itself. So `cold` and
// "cold" are the same, `80` and "80" are not.
std::string ResolvedTag(const YAML::Node& n) {
  static const std::regex kNonString(
      "null|Null|NULL|~|true|True|TRUE|false|False|FALSE|[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+|"
      "[-+]?(\\.[0-9]+|[0-9]+(\\.[0-9]*)?)([eE][-+]?[0-9]+)?|[-+]?\\.(inf|Inf|INF)|"
      "\\.(nan|NaN|NAN)");
  const std::string& tag = n.Tag();
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return "str";
  if (tag == "?" || tag.empty()) return std::regex_match(n.Scalar(), kNonString) ? "?" : "str";
  return tag;
}

bool Same(const YAML::Node& a, const YAML::Node& b, std::size_t* budget) {
  if (*budget == 0) return false;
  --*budget;
  const bool a_null = !a.IsDefined() || a.IsNull();
  const bool b_null = !b.IsDefined() || b.IsNull();
  if (a_null || b_null) return a_null && b_null;
  if (a.Type() != b.Type()) return false;
  switch (a.Type()) {
    case YAML::NodeType::Scalar:
      // The resolved tag depends on the tag and the text alone: the same
      // tag and text need no regex (it would cost seconds on a large value).
      return a.Scalar() == b.Scalar() && (a.Tag() == b.Tag() || ResolvedTag(a) == ResolvedTag(b));
    case YAML::NodeType::Sequence:
      if (a.size() != b.size()) return false;
      for (auto ia = a.begin(), ib = b.begin(); ia != a.end(); ++ia, ++ib) {
        if (!Same(*ia, *ib, budget)) return false;
      }
      return true;
    case YAML::NodeType::Map:
      if (a.size() != b.size()) return false;
      for (auto ia = a.begin(); ia != a.end(); ++ia) {
        auto ib = b.begin();
        while (ib != b.end() && !Same(ia->first, ib->first, budget)) ++ib;
        if (ib == b.end() || !Same(ia->second, ib->second, budget)) return false;
      }
      return true;
    default:
      return false;
  }
}

bool SameEndpoint(const config::Endpoint& a, const config::Endpoint& b) {
  if (a.name != b.name || a.protocol != b.protocol || a.addresses.size() != b.addresses.size()) {
    return false;
  }
  // At most one address per family: the order they were written in means nothing.
  return std::all_of(a.addresses.begin(), a.addresses.end(), [&](const common::AddrPort& x) {
    const common::AddrPort* y = b.AddressFor(x.family());
    return y != nullptr && *y == x;
  });
}

bool SameKind(const config::KindRef& a, const config::KindRef& b) {
  return a.ns == b.ns && a.name == b.name;
}

bool SameTarget(const config::Target& a, const config::Target& b) {
  if (!SameKind(a.kind, b.kind) || a.idle_timeout_s != b.idle_timeout_s ||
      a.ready_timeout_s != b.ready_timeout_s || a.endpoints.size() != b.endpoints.size() ||
      !SameValue(a.options.node, b.options.node)) {
    return false;
  }
  return std::all_of(a.endpoints.begin(), a.endpoints.end(), [&](const config::Endpoint& e) {
    const config::Endpoint* o = b.FindEndpoint(e.name);
    return o != nullptr && SameEndpoint(e, *o);
  });
}

bool SameFrontend(const config::Frontend& a, const config::Frontend& b) {
  return SameKind(a.kind, b.kind) && a.protocol == b.protocol && a.listen == b.listen &&
         a.flow_timeout_s == b.flow_timeout_s && a.target == b.target &&
         a.endpoint == b.endpoint && a.ipv6_only == b.ipv6_only &&
         SameValue(a.options.node, b.options.node);
}

// Sorts every list of `c`.
void Sort(ChangeList* c) {
  for (auto* v : {&c->added, &c->removed, &c->changed, &c->unchanged}) {
    std::sort(v->begin(), v->end());
  }
}

// Matches `running`'s items with `next`'s by name; `same(a, b)` tells an
// unchanged item from a changed one.
template <class T, class Same>
ChangeList Match(const std::vector<T>& running, const std::vector<T>& next, Same same) {
  ChangeList c;
  std::map<std::string, const T*> old;
  for (const T& x : running) old[x.name] = &x;
  for (const T& x : next) {
    auto it = old.find(x.name);
    if (it == old.end()) {
      c.added.push_back(x.name);
      continue;
    }
    (same(*it->second, x) ? c.unchanged : c.changed).push_back(x.name);
    old.erase(it);
  }
  for (const auto& [name, x] : old) c.removed.push_back(name);
  return c;
}

std::vector<Mapping> Sorted(std::vector<Mapping> v) {
  std::sort(v.begin(), v.end(),
            [](const Mapping& a, const Mapping& b) { return a.key < b.key; });
  return v;
}

std::string Quoted(const std::string& s) { return "\"" + s + "\""; }

// A setting the engine takes only at start: refused when it changed.
void RefuseChanged(const config::Config& next, const char* path, const std::string& was,
                   const std::string& now, const char* why, std::vector<config::ConfigError>* out) {
  if (was == now) return;
  out->push_back({next.file, {}, path,
                  "changed from " + Quoted(was) + " to " + Quoted(now) +
                      "; this needs a restart of proxygw (" + why + ")"});
}

// The ha section as a reload error shows it.
std::string HaText(const config::HaConfig& ha) {
  if (!ha.enabled) return "absent";
  return std::string("{initial_role: ") + common::HaRoleName(ha.initial_role) + "}";
}

// plugins.<ns>: loaded once, at start. The ctl plugin's socket is open.
void RefusePlugins(const config::Config& running, const config::Config& next,
                   std::vector<config::ConfigError>* out) {
  std::set<std::string> names;
  for (const auto& [ns, o] : running.plugins) names.insert(ns);
  for (const auto& [ns, o] : next.plugins) names.insert(ns);
  for (const std::string& ns : names) {
    const config::Options* was = running.PluginOptions(ns);
    const config::Options* now = next.PluginOptions(ns);
    if (was != nullptr && now != nullptr && SameValue(was->node, now->node)) continue;
    const char* what = was == nullptr ? "added" : now == nullptr ? "removed" : "changed";
    std::string why = ns == "ctl" ? "the control socket is set up at start, and serves this very "
                                    "reload"
                                  : "plugins are loaded at start";
    out->push_back({next.file, now != nullptr ? now->location : config::Location{},
                    "plugins." + ns,
                    std::string(what) + "; this needs a restart of proxygw (" + why + ")"});
  }
}

}  // namespace

bool SameValue(const YAML::Node& a, const YAML::Node& b) {
  std::size_t budget = kCompareBudget;
  return Same(a, b, &budget);
}

std::vector<Mapping> TargetMappings(const config::Config& cfg, const std::string& target) {
  std::vector<Mapping> out;
  for (const auto& f : cfg.frontends) {
    if (f.target != target) continue;
    for (const auto& m : cfg.MappingsOf(f)) out.push_back(config::ToNetd(m));
  }
  return out;
}

std::vector<ipc::netd::MappingKey> FrontendKeys(const config::Config& cfg,
                                                const config::Frontend& f) {
  std::vector<ipc::netd::MappingKey> keys;
  for (const auto& m : cfg.MappingsOf(f)) keys.push_back(config::ToNetd(m).key);
  return keys;
}

bool ReloadPlan::Empty() const {
  return targets.added.empty() && targets.removed.empty() && targets.changed.empty() &&
         frontends.added.empty() && frontends.removed.empty() && frontends.changed.empty() &&
         remapped.empty();
}

ReloadPlan PlanReload(const config::Config& running, const config::Config& next) {
  ReloadPlan plan;
  auto& refused = plan.restart_only;
  RefuseChanged(next, "netd.socket", running.netd.socket, next.netd.socket,
                "the engine's connection to proxygw-netd is set up at start", &refused);
  RefuseChanged(next, "netd.user", running.netd.user, next.netd.user,
                "proxygw-netd runs as this user from its start", &refused);
  RefuseChanged(next, "engine.user", running.engine.user, next.engine.user,
                "the engine runs as this user from its start", &refused);
  RefuseChanged(next, "engine.state_dir", running.engine.state_dir, next.engine.state_dir,
                "targets' records and backends' output are kept there", &refused);
  RefuseChanged(next, "ha", HaText(running.ha), HaText(next.ha),
                "the node's HA role is taken at start; without an ha section it is always "
                "master",
                &refused);
  RefusePlugins(running, next, &refused);
  plan.log_changed = running.log.output != next.log.output || running.log.level != next.log.level;

  plan.targets = Match(running.targets, next.targets, SameTarget);
  std::set<std::string> replaced(plan.targets.changed.begin(), plan.targets.changed.end());
  plan.frontends = Match(running.frontends, next.frontends,
                         [&](const config::Frontend& a, const config::Frontend& b) {
                           return SameFrontend(a, b) && !replaced.count(b.target);
                         });
  for (const std::string& t : plan.targets.unchanged) {
    if (Sorted(TargetMappings(running, t)) != Sorted(TargetMappings(next, t))) {
      plan.remapped.push_back(t);
    }
  }
  Sort(&plan.targets);
  Sort(&plan.frontends);
  std::sort(plan.remapped.begin(), plan.remapped.end());
  return plan;
}

}  // namespace engine
