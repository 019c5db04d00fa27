// The metrics plugin's settings, `plugins.metrics` in the engine's config:
// where the Prometheus endpoint listens. Checking them touches nothing
// (--check-config runs it too). Engine-side.
#pragma once

#include <optional>
#include <string>

#include "common/net_address.h"
#include "proxygw-engine/config/config.h"
#include "proxygw-engine/config/yaml_reader.h"

namespace metrics_plugin {

struct MetricsConfig {
  common::AddrPort listen;  // TCP; "[::]:P" serves IPv4 clients too
  // Where `listen` was written, for errors found when it is opened.
  std::string listen_path;  // "plugins.metrics.listen"
  config::Location listen_location;
};

// Reads plugins.metrics (`options`, not null: without the section there are
// no metrics, which the plugin handles before calling this):
//   listen: required; "ip:port" or "[ipv6]:port", port 1-65535, no zone, not
//           multicast nor IPv4-mapped; it must not share its port with a TCP
//           frontend listening on the same address or a wildcard (`cfg`'s
//           frontends), whose forwarding would take its connections.
// Unknown keys are errors. Every problem is reported into `errors` with its
// location; the result is nullopt when there was any.
std::optional<MetricsConfig> ReadMetricsConfig(const config::Options& options,
                                               const config::Config& cfg,
                                               config::ErrorSink& errors);

}  // namespace metrics_plugin
