#include "plugins/metrics/metrics_page.h"

#include "proxygw-engine/exposition.h"

namespace metrics_plugin {
namespace {

using engine::Exposition;
using Type = engine::Exposition::Type;

// In the original's numbering order.
constexpr const char* kTargetStates[] = {"inactive", "active", "warming", "draining", "closed"};
constexpr const char* kFrontendStates[] = {"stopped", "starting", "running", "stopping", "closed"};

const engine::TargetCounters& TargetOf(const engine::Metrics* m, const std::string& name) {
  static const engine::TargetCounters kZero;
  const engine::TargetCounters* c = m != nullptr ? m->FindTarget(name) : nullptr;
  return c != nullptr ? *c : kZero;
}

std::uint64_t KnocksOf(const engine::Metrics* m, const std::string& name) {
  const engine::FrontendCounters* c = m != nullptr ? m->FindFrontend(name) : nullptr;
  return c != nullptr ? c->knocks : 0;
}

// One counter family with a sample per target.
void TargetCounter(Exposition& e, const engine::StatusSnapshot& snap, const engine::Metrics* m,
                   const char* name, const char* help,
                   std::uint64_t engine::TargetCounters::*field) {
  e.Family(name, Type::kCounter, help);
  for (const auto& t : snap.targets) {
    e.Sample({{"target", t.name}}, static_cast<double>(TargetOf(m, t.name).*field));
  }
}

void Targets(Exposition& e, const engine::StatusSnapshot& snap, const engine::Metrics* m) {
  e.Family("proxygw_target_state", Type::kGauge,
           "1 for the state the target is in, 0 for the others.");
  for (const auto& t : snap.targets) {
    for (const char* s : kTargetStates) e.Sample({{"target", t.name}, {"state", s}}, t.state == s);
  }
  e.Family("proxygw_target_active_flows", Type::kGauge,
           "DNATed flows to the target's endpoints, as netd counts them; absent while unknown "
           "(netd not connected).");
  for (const auto& t : snap.targets) {
    if (t.flows) e.Sample({{"target", t.name}}, *t.flows);
  }
  TargetCounter(e, snap, m, "proxygw_target_warms_total", "Warms started (inactive to warming).",
                &engine::TargetCounters::warms);
  TargetCounter(e, snap, m, "proxygw_target_drains_total",
                "Drains of a warming or active target (idle timeout or proxygwctl drain).",
                &engine::TargetCounters::drains);
  TargetCounter(e, snap, m, "proxygw_target_warm_failures_total",
                "Warms that failed before the target was active (backend start, readiness, or "
                "netd refusing its mappings).",
                &engine::TargetCounters::warm_failures);
  TargetCounter(e, snap, m, "proxygw_target_backend_exits_total",
                "Backends that stopped by themselves while warming or active.",
                &engine::TargetCounters::backend_exits);
  e.Family("proxygw_target_cold_start_duration_seconds", Type::kHistogram,
           "Time from the start of a warm to the target being active (backend started, "
           "endpoints ready, forwarding on).");
  for (const auto& t : snap.targets) e.Sample({{"target", t.name}}, TargetOf(m, t.name).cold_start);
}

void Frontends(Exposition& e, const engine::StatusSnapshot& snap, const engine::Metrics* m) {
  e.Family("proxygw_frontend_state", Type::kGauge,
           "1 for the state the frontend is in, 0 for the others.");
  for (const auto& f : snap.frontends) {
    for (const char* s : kFrontendStates) {
      e.Sample({{"frontend", f.name}, {"state", s}}, f.state == s);
    }
  }
  e.Family("proxygw_frontend_knocks_total", Type::kCounter,
           "Client requests that asked for the frontend's target (a request for static:http's "
           "page, a minecraft:server login, a valheim:server connection request).");
  for (const auto& f : snap.frontends) {
    e.Sample({{"frontend", f.name}}, static_cast<double>(KnocksOf(m, f.name)));
  }
}

void Netd(Exposition& e, const engine::StatusSnapshot& snap, const engine::Metrics* m) {
  e.Family("proxygw_netd_connected", Type::kGauge,
           "1 while the engine is connected to proxygw-netd and in sync, else 0.");
  e.Sample({}, snap.dataplane_connected);
  e.Family("proxygw_netd_change_duration_seconds", Type::kHistogram,
           "Time from sending a change of mappings (on or off) to proxygw-netd to its reply.");
  static const engine::Histogram kEmpty(engine::kNetdChangeBuckets);
  e.Sample({}, m != nullptr ? m->netd_change() : kEmpty);
}

// Only with an ha section (docs/ha.md).
void Ha(Exposition& e, const engine::StatusSnapshot& snap) {
  if (snap.role.empty()) return;
  e.Family("proxygw_ha_role", Type::kGauge,
           "1 for the node's HA role (keepalived's notify hook says it), 0 for the others.");
  for (const char* r : {"master", "backup", "fault"}) e.Sample({{"role", r}}, snap.role == r);
}

}  // namespace

std::string EngineMetricsText(const engine::StatusSnapshot& snap, const engine::Metrics* counters) {
  Exposition e;
  Targets(e, snap, counters);
  Frontends(e, snap, counters);
  Netd(e, snap, counters);
  Ha(e, snap);
  return e.text();
}

std::string MetricsPage(const engine::StatusSnapshot& snap, const engine::Metrics* counters) {
  Exposition e;
  e.ProcessMetrics();
  return EngineMetricsText(snap, counters) + e.text();
}

}  // namespace metrics_plugin
