// PluginRegistry: the compiled-in plugins (plugins/plugin.yaml, kPlugins)
// loaded with one config: the factories of the frontend and target kinds they
// register, and the plugin instances to unload at shutdown. Also the check
// that --check-config, the engine's start and a config reload share, so that
// all three report the same errors. Event loop only.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "proxygw-engine/config/config.h"
#include "proxygw-engine/config/loader.h"
#include "proxygw-engine/control.h"
#include "proxygw-engine/log.h"
#include "proxygw-engine/plugin_api.h"

namespace boost::asio {
class io_context;
}

namespace engine {

class PluginRegistry {
 public:
  // Loads every plugin in plugin.yaml order with its plugins.<namespace>
  // section of `cfg`, reporting problems into `errors` (located), and a
  // plugins.<namespace> that names no compiled-in plugin. With `start`
  // false (checking only) nothing is opened and no instance is kept.
  void Load(boost::asio::io_context& io, Control& control, const config::Config& cfg,
            const Logger& log, config::ErrorSink& errors, bool start);
  // The factory of `t`'s (`f`'s) kind; null, with the error reported at its
  // kind field, when no loaded plugin registers it.
  const TargetFactory* TargetKind(const config::Target& t, config::ErrorSink& errors) const;
  const FrontendFactory* FrontendKind(const config::Frontend& f, config::ErrorSink& errors) const;
  // Unloads the loaded plugins in reverse load order.
  void Unload();

 private:
  std::map<std::string, FrontendFactory> frontends_;  // "ns:kind"
  std::map<std::string, TargetFactory> targets_;
  std::vector<std::pair<const PluginEntry*, std::unique_ptr<PluginInstance>>> loaded_;
};

// Checks what the config loader cannot: every plugins.<namespace> names a
// compiled-in plugin, every kind is registered, every plugin section and every
// kind's options are valid. Starts nothing. Errors are appended to `errors`.
void CheckPlugins(const config::Config& cfg, std::vector<config::ConfigError>* errors);

// The config at `path` as the engine takes it: loaded (structure, then
// meaning) and checked by every plugin (CheckPlugins), errors in file order.
// `config` is set only when there is no error.
config::LoadResult LoadAndCheck(const std::string& path);

// Gives every options node of `cfg` its own copy of its subtree (without line
// numbers), so that the parsed file's nodes are freed. LoadAndCheck does it.
void DetachOptions(config::Config& cfg);

}  // namespace engine
