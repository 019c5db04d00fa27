#include "proxygw-engine/testing/test_plugin.h"

#include <boost/asio/io_context.hpp>

#include "proxygw-engine/plugin_api.h"

namespace engine::testing {
namespace {

std::unique_ptr<TargetHandler> NewTarget(const TargetContext& ctx, config::ErrorSink&) {
  TestPluginState& p = TestPlugin();
  if (&ctx.io != p.io) {
    static ScriptedTarget::Script throwaway;
    return std::make_unique<ScriptedTarget>(&throwaway);
  }
  auto& gens = p.targets[ctx.config.name];
  gens.push_back(std::make_unique<ScriptedTarget::Script>());
  if (p.new_target) p.new_target(*gens.back());
  return std::make_unique<ScriptedTarget>(gens.back().get());
}

std::unique_ptr<FrontendHandler> NewFrontend(const FrontendContext& ctx, config::ErrorSink&) {
  TestPluginState& p = TestPlugin();
  if (&ctx.io != p.io) {
    static ScriptedFrontend::Script throwaway;
    return std::make_unique<ScriptedFrontend>(&throwaway);
  }
  auto& gens = p.frontends[ctx.config.name];
  gens.push_back(std::make_unique<ScriptedFrontend::Script>());
  p.warm[ctx.config.name] = ctx.warm;
  return std::make_unique<ScriptedFrontend>(gens.back().get());
}

void Load(PluginContext&, Namespace& ns, config::ErrorSink&, bool,
          std::unique_ptr<PluginInstance>*) {
  ns.targets["target"] = NewTarget;
  ns.frontends["frontend"] = NewFrontend;
}

const PluginDef kTestPluginDef{"test", Load};

}  // namespace

TestPluginState& TestPlugin() {
  static TestPluginState state;
  return state;
}

void ResetTestPlugin(boost::asio::io_context& io) {
  TestPlugin() = TestPluginState{};
  TestPlugin().io = &io;
}

}  // namespace engine::testing

namespace engine {
const PluginEntry kPlugins[] = {{&testing::kTestPluginDef, "test"}};
const std::size_t kPluginCount = 1;
}  // namespace engine
