// The systemd plugin (namespace `systemd` in plugin.yaml): the target kind
// systemd:unit (unit_target.h). It takes no settings: `plugins.systemd` is
// empty or absent. Its targets share one connection to the system bus,
// opened when the first of them needs it (never by --check-config).
#include <boost/asio/io_context.hpp>

#include "plugins/systemd/system_bus.h"
#include "plugins/systemd/unit_options.h"
#include "plugins/systemd/unit_target.h"
#include "proxygw-engine/plugin_api.h"

namespace plugins::systemd {
namespace {

void Load(engine::PluginContext& ctx, engine::Namespace& ns, config::ErrorSink& errors, bool,
          std::unique_ptr<engine::PluginInstance>*) {
  if (ctx.options != nullptr) {
    config::Fields::Read(errors, ctx.options->node, ctx.options->path, ctx.options->location, {},
                         /*null_is_empty=*/true);
  }
  // The connection while some target holds it; a broken one is replaced.
  auto shared = std::make_shared<std::weak_ptr<SystemBus>>();
  ns.targets["unit"] = [shared](const engine::TargetContext& t, config::ErrorSink& errs)
      -> std::unique_ptr<engine::TargetHandler> {
    auto options = ReadUnitOptions(t.config, errs);
    if (!options) return nullptr;
    boost::asio::io_context& io = t.io;
    return NewUnitTarget(t, std::move(*options),
                         [shared, &io]() -> common::Result<std::shared_ptr<SystemBus>> {
                           if (auto bus = shared->lock(); bus && bus->open()) return bus;
                           auto bus = SystemBus::Open(io);
                           if (bus.ok()) *shared = *bus;
                           return bus;
                         });
  };
}

}  // namespace
}  // namespace plugins::systemd

extern const engine::PluginDef proxygw_plugin_systemd{"systemd", plugins::systemd::Load};
