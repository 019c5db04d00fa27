// The minecraft plugin (namespace `minecraft` in plugin.yaml): the frontend
// kind minecraft:server (server_frontend.h). It takes no settings:
// `plugins.minecraft` is empty or absent, as in the original.
#include <memory>
#include <string>

#include "plugins/minecraft/server_frontend.h"
#include "proxygw-engine/control.h"
#include "proxygw-engine/plugin_api.h"

namespace plugins::minecraft {
namespace {

// The state of target `name` as the engine reports it; "" when unknown.
std::string TargetState(engine::Control& control, const std::string& name) {
  for (const auto& t : control.Status().targets) {
    if (t.name == name) return t.state;
  }
  return {};
}

void Load(engine::PluginContext& ctx, engine::Namespace& ns, config::ErrorSink& errors, bool,
          std::unique_ptr<engine::PluginInstance>*) {
  if (ctx.options != nullptr) {
    config::Fields::Read(errors, ctx.options->node, ctx.options->path, ctx.options->location, {},
                         /*null_is_empty=*/true);
  }
  engine::Control* control = &ctx.control;  // the engine; it outlives every frontend
  ns.frontends["server"] = [control](const engine::FrontendContext& f, config::ErrorSink& sink) {
    std::string target = f.config.target;
    return NewServerFrontend(f, sink, [control, target] { return TargetState(*control, target); });
  };
}

}  // namespace
}  // namespace plugins::minecraft

extern const engine::PluginDef proxygw_plugin_minecraft{"minecraft", plugins::minecraft::Load};
