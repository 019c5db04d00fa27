// The metrics page: exact text for one target and one frontend, every
// counter at zero without the engine's counters, and promtool's verdict
// (Debian's prometheus package) on the whole page with the process metrics.
#include "plugins/metrics/metrics_page.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <unistd.h>

#include <string>

namespace metrics_plugin {
namespace {

engine::StatusSnapshot Snapshot() {
  engine::StatusSnapshot snap;
  snap.dataplane_connected = true;
  engine::TargetStatus t;
  t.name = "web";
  t.state = "active";
  t.flows = 2;
  snap.targets.push_back(t);
  engine::FrontendStatus f;
  f.name = "page";
  f.state = "running";
  snap.frontends.push_back(f);
  return snap;
}

bool Has(const std::string& text, const std::string& line) {
  return text.find("\n" + line + "\n") != std::string::npos;
}

TEST(MetricsPage, StatesFlowsAndCounters) {
  engine::Metrics m;
  engine::TargetCounters& c = m.ForTarget("web");
  c.warms = 3;
  c.drains = 2;
  c.warm_failures = 1;
  c.backend_exits = 4;
  c.cold_start.Observe(0.3);
  m.ForFrontend("page").knocks = 5;
  m.netd_change().Observe(0.002);
  const std::string text = EngineMetricsText(Snapshot(), &m);
  EXPECT_TRUE(Has(text, "proxygw_target_state{target=\"web\",state=\"active\"} 1"));
  EXPECT_TRUE(Has(text, "proxygw_target_state{target=\"web\",state=\"inactive\"} 0"));
  EXPECT_TRUE(Has(text, "proxygw_target_state{target=\"web\",state=\"closed\"} 0"));
  EXPECT_TRUE(Has(text, "proxygw_target_active_flows{target=\"web\"} 2"));
  EXPECT_TRUE(Has(text, "proxygw_target_warms_total{target=\"web\"} 3"));
  EXPECT_TRUE(Has(text, "proxygw_target_drains_total{target=\"web\"} 2"));
  EXPECT_TRUE(Has(text, "proxygw_target_warm_failures_total{target=\"web\"} 1"));
  EXPECT_TRUE(Has(text, "proxygw_target_backend_exits_total{target=\"web\"} 4"));
  EXPECT_TRUE(
      Has(text, "proxygw_target_cold_start_duration_seconds_bucket{target=\"web\",le=\"0.25\"} 0"));
  EXPECT_TRUE(
      Has(text, "proxygw_target_cold_start_duration_seconds_bucket{target=\"web\",le=\"0.5\"} 1"));
  EXPECT_TRUE(Has(text, "proxygw_target_cold_start_duration_seconds_count{target=\"web\"} 1"));
  EXPECT_TRUE(Has(text, "proxygw_frontend_state{frontend=\"page\",state=\"running\"} 1"));
  EXPECT_TRUE(Has(text, "proxygw_frontend_state{frontend=\"page\",state=\"stopped\"} 0"));
  EXPECT_TRUE(Has(text, "proxygw_frontend_knocks_total{frontend=\"page\"} 5"));
  EXPECT_TRUE(Has(text, "proxygw_netd_connected 1"));
  EXPECT_TRUE(Has(text, "proxygw_netd_change_duration_seconds_bucket{le=\"0.0025\"} 1"));
  EXPECT_TRUE(Has(text, "proxygw_netd_change_duration_seconds_count 1"));
  EXPECT_TRUE(Has(text, "# TYPE proxygw_target_warms_total counter"));
  EXPECT_TRUE(Has(text, "# TYPE proxygw_target_cold_start_duration_seconds histogram"));
}

TEST(MetricsPage, CountersStartAtZeroAndUnknownFlowsAreLeftOut) {
  engine::StatusSnapshot snap = Snapshot();
  snap.dataplane_connected = false;
  snap.targets[0].flows.reset();
  const std::string text = EngineMetricsText(snap, nullptr);
  EXPECT_TRUE(Has(text, "proxygw_target_warms_total{target=\"web\"} 0"));
  EXPECT_TRUE(Has(text, "proxygw_frontend_knocks_total{frontend=\"page\"} 0"));
  EXPECT_TRUE(Has(text, "proxygw_target_cold_start_duration_seconds_count{target=\"web\"} 0"));
  EXPECT_TRUE(Has(text, "proxygw_netd_connected 0"));
  EXPECT_EQ(text.find("proxygw_target_active_flows{"), std::string::npos);
}

TEST(MetricsPage, PromtoolAcceptsThePage) {
  if (::access("/usr/bin/promtool", X_OK) != 0) GTEST_SKIP() << "promtool is not installed";
  engine::Metrics m;
  m.ForTarget("web").cold_start.Observe(1.5);
  engine::StatusSnapshot snap = Snapshot();
  snap.targets.push_back(snap.targets[0]);
  snap.targets[1].name = "odd \"name\"";
  const std::string text = MetricsPage(snap, &m);
  FILE* p = ::popen("/usr/bin/promtool check metrics > /dev/null 2>&1", "w");
  ASSERT_NE(p, nullptr);
  std::fwrite(text.data(), 1, text.size(), p);
  EXPECT_EQ(::pclose(p), 0) << text;
  for (const char* name :
       {"process_resident_memory_bytes", "process_max_fds", "process_start_time_seconds"}) {
    EXPECT_NE(text.find("\n" + std::string(name) + " "), std::string::npos) << name;
  }
  EXPECT_NE(text.find("\nprocess_cpu_seconds_total "), std::string::npos);
  EXPECT_NE(text.find("\nprocess_open_fds "), std::string::npos);
}

}  // namespace
}  // namespace metrics_plugin
