// The Prometheus text format: exact text for a small exposition, and
// promtool's verdict (Debian's prometheus package) on one with every kind.
#include "proxygw-engine/exposition.h"

#include <gtest/gtest.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace engine {
namespace {

TEST(Exposition, CountersGaugesAndLabelsAreWrittenExactly) {
  Exposition e;
  e.Family("proxygw_target_warms_total", Exposition::Type::kCounter, "Warms started.");
  e.Sample({{"target", "web"}}, 3);
  e.Sample({{"target", "odd \"name\"\\\n"}}, 0);
  e.Family("proxygw_netd_connected", Exposition::Type::kGauge, "1 when in sync with netd.");
  e.Sample({}, 1);
  EXPECT_EQ(e.text(),
            "# HELP proxygw_target_warms_total Warms started.\n"
            "# TYPE proxygw_target_warms_total counter\n"
            "proxygw_target_warms_total{target=\"web\"} 3\n"
            "proxygw_target_warms_total{target=\"odd \\\"name\\\"\\\\\\n\"} 0\n"
            "# HELP proxygw_netd_connected 1 when in sync with netd.\n"
            "# TYPE proxygw_netd_connected gauge\n"
            "proxygw_netd_connected 1\n");
}

TEST(Exposition, HistogramsAreCumulativeAndEndInInf) {
  Histogram h({0.1, 1});
  h.Observe(0.05);
  h.Observe(0.5);
  h.Observe(7);
  Exposition e;
  e.Family("d_seconds", Exposition::Type::kHistogram, "D.");
  e.Sample({{"target", "t"}}, h);
  EXPECT_EQ(e.text(),
            "# HELP d_seconds D.\n"
            "# TYPE d_seconds histogram\n"
            "d_seconds_bucket{target=\"t\",le=\"0.1\"} 1\n"
            "d_seconds_bucket{target=\"t\",le=\"1\"} 2\n"
            "d_seconds_bucket{target=\"t\",le=\"+Inf\"} 3\n"
            "d_seconds_sum{target=\"t\"} 7.55\n"
            "d_seconds_count{target=\"t\"} 3\n");
}

TEST(Exposition, PromtoolAcceptsEveryKindAndTheProcessMetrics) {
  if (::access("/usr/bin/promtool", X_OK) != 0) GTEST_SKIP() << "promtool is not installed";
  Histogram h({0.01, 0.1, 1, 10});
  h.Observe(0.3);
  Exposition e;
  e.Family("proxygw_target_warms_total", Exposition::Type::kCounter, "Warms started.");
  e.Sample({{"target", "web"}}, 1);
  e.Family("proxygw_target_cold_start_seconds", Exposition::Type::kHistogram, "Warm to active.");
  e.Sample({{"target", "web"}}, h);
  e.ProcessMetrics();
  FILE* p = ::popen("/usr/bin/promtool check metrics > /dev/null 2>&1", "w");
  ASSERT_NE(p, nullptr);
  std::fwrite(e.text().data(), 1, e.text().size(), p);
  EXPECT_EQ(::pclose(p), 0) << e.text();
  EXPECT_NE(e.text().find("\nprocess_resident_memory_bytes "), std::string::npos);
  EXPECT_NE(e.text().find("\nprocess_start_time_seconds "), std::string::npos);
}

}  // namespace
}  // namespace engine
