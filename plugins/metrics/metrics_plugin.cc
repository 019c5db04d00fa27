// The metrics plugin (namespace `metrics` in plugin.yaml): serves the
// engine's metrics for Prometheus at GET /metrics on plugins.metrics.listen
// (TCP), in the text exposition format (metrics_page.h), through the HTTP
// server static:http uses (plugins/net/http_server.h: one request per
// connection; header size, time and connection count bounded). GET and HEAD
// of /metrics get the page, any other method 405, any other path 404. The
// listener opens when the engine starts (not for --check-config) and closes
// at unload. Without a plugins.metrics section there are no metrics. It
// registers no frontend or target kinds. Engine-side, on the event loop: a
// scrape reads the status snapshot and counters as they are.
#include <memory>

#include "plugins/metrics/metrics_config.h"
#include "plugins/metrics/metrics_page.h"
#include "plugins/metrics/metrics_server.h"
#include "proxygw-engine/plugin_api.h"

namespace metrics_plugin {
namespace {

class MetricsInstance : public engine::PluginInstance {
 public:
  explicit MetricsInstance(std::shared_ptr<plugins::net::HttpServer> server)
      : server_(std::move(server)) {}
  // Also when dropped without Unload (a failed start): the server's
  // connections must not call into an engine that is gone.
  ~MetricsInstance() override { server_->Shutdown(); }
  void Unload() override { server_->Shutdown(); }

 private:
  std::shared_ptr<plugins::net::HttpServer> server_;
};

void Load(engine::PluginContext& ctx, engine::Namespace& /*ns*/, config::ErrorSink& errors,
          bool start, std::unique_ptr<engine::PluginInstance>* instance) {
  if (ctx.options == nullptr) {
    if (start) ctx.log.Debug("no plugins." + ctx.ns + " section: metrics are off");
    return;
  }
  std::optional<MetricsConfig> cfg = ReadMetricsConfig(*ctx.options, ctx.config, errors);
  if (!cfg || !start) return;
  auto server = OpenMetricsServer(ctx.io, ctx.control, ctx.log, cfg->listen, {});
  if (!server.ok()) {
    errors.Add(cfg->listen_location, cfg->listen_path, server.status().message());
    return;
  }
  ctx.log.Info("serving metrics", {{"listen", cfg->listen.ToString()}});
  *instance = std::make_unique<MetricsInstance>(std::move(server).value());
}

}  // namespace
}  // namespace metrics_plugin

extern const engine::PluginDef proxygw_plugin_metrics{"metrics", metrics_plugin::Load};
