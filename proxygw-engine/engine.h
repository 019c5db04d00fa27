// Engine: the unprivileged daemon's core. It loads the plugins, builds the
// targets and frontends of a config, connects them to the dataplane, and
// answers the ctl plugin (Control). Startup order: state directory, plugins in
// plugin.yaml order, targets (adopting those that were active before an
// engine restart), the dataplane connection, frontends. A config reload
// (SIGHUP, or the ctl method) applies the difference: see Reload. Shutdown,
// in reverse: frontends close, targets drain and close (their handlers stop
// backends), plugins unload (main() then tells netd to remove its table and
// exit); or, for a restart, frontends close and plugins unload while targets,
// backends and forwarding stay for the next engine to adopt. One Boost.Asio
// event loop; no thread per object.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "common/status.h"
#include "proxygw-engine/config/config.h"
#include "proxygw-engine/control.h"
#include "proxygw-engine/dataplane.h"

namespace boost::asio {
class io_context;
}

namespace engine {

class Engine : public Control {
 public:
  // `cfg`: checked (LoadAndCheck, plugin_registry.h). `dataplane` outlives
  // the engine.
  Engine(boost::asio::io_context& io, std::shared_ptr<const config::Config> cfg,
         Dataplane& dataplane);
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

  // The running config: the one it started with, or the last one a reload
  // applied.
  std::shared_ptr<const config::Config> config() const;

  // Control
  StatusSnapshot Status() const override;
  common::Status Warm(const std::string& name) override;
  common::Status Drain(const std::string& name) override;
  // Reads the config file again (the running config's `file`) and applies
  // the difference; the plan is logged (added, removed, changed, unchanged).
  // Refused, logged and answered with the located errors, the running config
  // staying, when the new one is invalid (the same errors as --check-config),
  // changes a setting that needs a restart (netd.socket, netd.user,
  // engine.user, engine.state_dir, any plugins.<namespace> section), or names
  // a log output that cannot be opened. Applied:
  //   - unchanged targets and frontends keep their state, flows and backend
  //     (nothing is asked of netd for them);
  //   - an unchanged target whose frontends changed has its mappings updated
  //     in place: those that stay are untouched, the flows of those that go
  //     are flushed;
  //   - removed targets drain (forwarding off, flows flushed, backend
  //     stopped), then close; removed frontends close;
  //   - changed targets are replaced: the old one drains and closes, then
  //     the new one is built, cold (a warm asked for meanwhile is kept);
  //     changed frontends, and the frontends of a replaced target, are
  //     closed and built anew;
  //   - added ones are built and start (frontends) or wait cold (targets);
  //   - the log output is reopened, with the new log settings.
  // Also refused while the engine is shutting down.
  ReloadReport Reload() override;
  // High availability (docs/ha.md). The role at start: master without an ha
  // section; with one, the role an earlier engine of this boot recorded in
  // engine.state_dir (an engine restart keeps the node's role), else
  // ha.initial_role. To master: every target the node followed as live
  // becomes active without a warm, the others stay inactive and warm on
  // demand. To backup or fault: every target stops deciding at once (no
  // drain, no stop) and follows its backend (Target::Follow). While not
  // master, warm and drain requests (ctl, frontends, knocks) are refused or
  // ignored. The role is recorded for the next engine.
  common::Status SetRole(common::HaRole role, common::HaRole* previous) override;
  const Metrics* metrics() const override;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace engine
