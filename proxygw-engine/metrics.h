// Metrics: the counters and histograms the engine keeps for the metrics
// plugin (plugins/metrics/): per target, warms, drains, warm failures,
// backend exits and the cold-start duration; per frontend, knocks; and the
// latency of netd's changes. What is a state rather than an event (target
// and frontend states, flows, the netd connection) is read from the status
// snapshot instead. Counters are kept by name and only ever grow: a target
// replaced under the same name keeps counting. Engine-side, event loop only.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "proxygw-engine/exposition.h"

namespace engine {

// Cold starts, in seconds: from a process that is up at once to a cloud VM
// that takes minutes.
inline const std::vector<double> kColdStartBuckets = {0.1, 0.25, 0.5, 1,   2.5, 5,
                                                      10,  30,   60,  120, 300, 600};
// netd changes, in seconds: a netlink round trip, up to a deletion that walks
// the conntrack table.
inline const std::vector<double> kNetdChangeBuckets = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 10, 30};

struct TargetCounters {
  std::uint64_t warms = 0;                  // warms started: inactive to warming
  std::uint64_t drains = 0;                 // drains accepted (idle, ctl) while warming or active
  std::uint64_t warm_failures = 0;          // warms that failed: the handler's warm, readiness,
                                            // or netd refusing the mappings, before active
  std::uint64_t backend_exits = 0;          // backends that stopped by themselves (warming, active)
  Histogram cold_start{kColdStartBuckets};  // seconds from warming to active
};

struct FrontendCounters {
  // Client traffic that asked for the target (an HTTP request for the page,
  // a join): FrontendContext::knock.
  std::uint64_t knocks = 0;
};

class Metrics {
 public:
  // The counters of `name`, created at zero. References stay valid for the
  // life of this object.
  TargetCounters& ForTarget(const std::string& name) { return targets_[name]; }
  FrontendCounters& ForFrontend(const std::string& name) { return frontends_[name]; }
  // Null when nothing was counted for `name`.
  const TargetCounters* FindTarget(const std::string& name) const;
  const FrontendCounters* FindFrontend(const std::string& name) const;

  // netd's Change requests (mappings on or off): request sent to reply, in
  // seconds.
  Histogram& netd_change() { return netd_change_; }
  const Histogram& netd_change() const { return netd_change_; }

 private:
  std::map<std::string, TargetCounters> targets_;
  std::map<std::string, FrontendCounters> frontends_;
  Histogram netd_change_{kNetdChangeBuckets};
};

}  // namespace engine
