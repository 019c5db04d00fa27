// The valheim plugin (namespace `valheim` in plugin.yaml): the frontend kinds
// valheim:server (server_frontend.h, the game port) and valheim:status
// (status_frontend.h, the query port). It takes no settings:
// `plugins.valheim` is empty or absent, as in the original.
#include <memory>

#include "plugins/valheim/server_frontend.h"
#include "plugins/valheim/status_frontend.h"
#include "proxygw-engine/plugin_api.h"

namespace plugins::valheim {
namespace {

std::unique_ptr<engine::FrontendHandler> NewStatus(const engine::FrontendContext& ctx,
                                                   config::ErrorSink& errors) {
  return NewStatusFrontend(ctx, errors);
}

void Load(engine::PluginContext& ctx, engine::Namespace& ns, config::ErrorSink& errors, bool,
          std::unique_ptr<engine::PluginInstance>*) {
  if (ctx.options != nullptr) {
    config::Fields::Read(errors, ctx.options->node, ctx.options->path, ctx.options->location, {},
                         /*null_is_empty=*/true);
  }
  ns.frontends["server"] = NewServerFrontend;
  ns.frontends["status"] = NewStatus;
}

}  // namespace
}  // namespace plugins::valheim

extern const engine::PluginDef proxygw_plugin_valheim{"valheim", plugins::valheim::Load};
