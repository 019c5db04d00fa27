// The page the metrics plugin serves at /metrics: the engine's state and
// counters in the Prometheus text exposition format (version 0.0.4), written
// with proxygw-engine/exposition.h. README.md ("Metrics") documents every
// family. Engine-side, event loop only.
#pragma once

#include <string>

#include "proxygw-engine/metrics.h"
#include "proxygw-engine/status.h"

namespace metrics_plugin {

inline constexpr const char* kContentType = "text/plain; version=0.0.4; charset=utf-8";

// The families of `snap` (states, flows, the netd connection) and of
// `counters` (null: every counter at zero), for the targets and frontends
// `snap` lists, in a fixed order. Without the process metrics.
std::string EngineMetricsText(const engine::StatusSnapshot& snap, const engine::Metrics* counters);

// EngineMetricsText, then the process metrics of this process.
std::string MetricsPage(const engine::StatusSnapshot& snap, const engine::Metrics* counters);

}  // namespace metrics_plugin
