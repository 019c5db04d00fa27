// The static plugin (namespace `static` in plugin.yaml): the built-in kinds.
// Frontends: static:always (always_frontend.h), static:http (http_frontend.h),
// static:hold (hold_frontend.h).
// Targets: static:cmd (cmd_target.h), static:exec (exec_target.h), static:none
// (below). It takes no settings: `plugins.static` is empty or absent.
#include "plugins/static/always_frontend.h"
#include "plugins/static/cmd_target.h"
#include "plugins/static/exec_target.h"
#include "plugins/static/hold_frontend.h"
#include "plugins/static/http_frontend.h"
#include "proxygw-engine/plugin_api.h"

namespace plugins::static_ns {
namespace {

// static:none: nothing to start or stop; proxygw only switches forwarding
// (for a backend another tool manages). Options: none.
class NoneTarget : public engine::TargetHandler {
 public:
  void Warm(engine::Done done) override { done(common::Status::Ok()); }
  void Drain(engine::Done done) override { done(common::Status::Ok()); }
  void Close(engine::Done done) override { done(common::Status::Ok()); }
};

std::unique_ptr<engine::TargetHandler> NewNoneTarget(const engine::TargetContext& ctx,
                                                     config::ErrorSink& errors) {
  const config::Options& o = ctx.config.options;
  std::size_t before = errors.count();
  config::Fields::Read(errors, o.node, o.path, o.location, {}, /*null_is_empty=*/true);
  if (errors.count() != before) return nullptr;
  return std::make_unique<NoneTarget>();
}

void Load(engine::PluginContext& ctx, engine::Namespace& ns, config::ErrorSink& errors, bool,
          std::unique_ptr<engine::PluginInstance>*) {
  if (ctx.options != nullptr) {
    config::Fields::Read(errors, ctx.options->node, ctx.options->path, ctx.options->location, {},
                         /*null_is_empty=*/true);
  }
  ns.frontends["always"] = NewAlwaysFrontend;
  ns.frontends["http"] = NewHttpFrontend;
  ns.frontends["hold"] = NewHoldFrontend;
  ns.targets["cmd"] = NewCmdTarget;
  ns.targets["exec"] = NewExecTarget;
  ns.targets["none"] = NewNoneTarget;
}

}  // namespace
}  // namespace plugins::static_ns

extern const engine::PluginDef proxygw_plugin_static{"static", plugins::static_ns::Load};
