// Engine: the unprivileged daemon's core. It loads the plugins, builds the
// targets and frontends of a config, connects them to the dataplane, and
// answers the ctl plugin (Control). Startup order: state directory, plugins in
// plugin.yaml order, targets (adopting those that were active before an
// engine restart), the dataplane connection, frontends. Shutdown, in reverse:
// frontends close, targets drain and close (their handlers stop backends),
// plugins unload (main() then tells netd to remove its table and exit); or,
// for a restart, frontends close and plugins unload while targets, backends
// and forwarding stay for the next engine to adopt. One Boost.Asio event
// loop; no thread per object.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "common/status.h"
#include "proxygw-engine/config/config.h"
#include "proxygw-engine/config/loader.h"
#include "proxygw-engine/control.h"
#include "proxygw-engine/dataplane.h"

namespace boost::asio {
class io_context;
}

namespace engine {

// Checks what the config loader cannot: every plugins.<namespace> names a
// compiled-in plugin, every kind is registered, every plugin section and every
// kind's options are valid. Starts nothing. Errors are appended to `errors`.
void CheckPlugins(const config::Config& cfg, std::vector<config::ConfigError>* errors);

class Engine : public Control {
 public:
  // `dataplane` outlives the engine.
  Engine(boost::asio::io_context& io, const config::Config& cfg, Dataplane& dataplane);
  ~Engine() override;

  // Loads plugins and builds everything (errors are config errors, located,
  // or start-up failures such as a ctl socket that cannot be bound). Then
  // `start_dataplane` is called (to connect) and the frontends start; `ready`
  // runs once they all have started (or failed: a frontend that fails to
  // start is logged and stays stopped, as in the original).
  common::Status Start(const std::function<void()>& start_dataplane, std::function<void()> ready);

  enum class ShutdownMode {
    kDrain,  // stop: every target drains and closes, its backend stops
    kKeep,   // restart: targets and backends are left as they are (their
             // state stays in engine.state_dir), as after a crash
  };
  // The shutdown sequence; `done` runs at its end. A second call is ignored.
  void Shutdown(ShutdownMode mode, std::function<void()> done);

  // Control
  StatusSnapshot Status() const override;
  common::Status Warm(const std::string& name) override;
  common::Status Drain(const std::string& name) override;
  const Metrics* metrics() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace engine
