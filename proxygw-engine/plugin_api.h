// What a plugin sees of the engine: how it registers frontend and target kinds,
// the handlers it implements, and what it is given to do so. Plugins are
// compiled in; plugins/plugin.yaml lists them (source folder and namespace) and
// the build generates the registration table from it (docs/plugins.md).
//
// Everything here runs on the engine's one event loop (Boost.Asio): handlers
// must never block; a long operation completes later through its Done callback,
// exactly once, on the loop.
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "common/status.h"
#include "proxygw-engine/config/config.h"
#include "proxygw-engine/config/yaml_reader.h"
#include "proxygw-engine/control.h"
#include "proxygw-engine/dataplane.h"
#include "proxygw-engine/log.h"

namespace boost::asio {
class io_context;
}

namespace engine {

class StateStore;

using Done = std::function<void(common::Status)>;

// A frontend's kind-specific part: it listens (or not) and asks for its target
// to be warmed by calling the `warm` callback it was given.
class FrontendHandler {
 public:
  virtual ~FrontendHandler() = default;
  // Begin serving (open a listener, start a timer...). Done(ok) when serving;
  // Done(error) leaves the frontend stopped.
  virtual void Start(Done done) = 0;
  // Stop serving. Done(error) leaves it running.
  virtual void Stop(Done done) = 0;
  // Final: release everything, synchronously. No callback runs after it.
  virtual void Close() = 0;
  // The target went inactive by failure (warm failed, not ready in time,
  // backend exited), not by a drain. Default: nothing.
  virtual void OnTargetFailed() {}
  // True when the frontend keeps its target warm whatever its flows: the
  // target's idle_timeout never drains it. Default: false.
  virtual bool KeepsTargetWarm() const { return false; }
  // The target became active (its mappings are on). Default: nothing.
  virtual void OnTargetActive() {}
  // netd holds packets for one of this frontend's keys (see
  // ipc::netd::Hold). True when the target should warm: the engine warms
  // it, and if it is draining, warms it again once it is inactive. Default:
  // false (a frontend that sets no hold gets no knock).
  virtual bool OnKnock(const ipc::netd::KnockPush&) { return false; }
  // Knocks seen since the frontend started, and the latest source; nullopt
  // for a frontend that holds nothing.
  struct Knocks {
    std::uint64_t count = 0;
    std::string last_source;  // empty before the first
  };
  virtual std::optional<Knocks> KnockStats() const { return std::nullopt; }
};

// A target's kind-specific part: it makes the backend available and takes it
// away again. The engine checks readiness and switches forwarding itself.
class TargetHandler {
 public:
  virtual ~TargetHandler() = default;
  // Make the backend available. Done(ok) once it has been started (the engine
  // then waits for its endpoints to accept connections).
  virtual void Warm(Done done) = 0;
  // Stop the backend. Done once it is stopped.
  virtual void Drain(Done done) = 0;
  // Final, at shutdown: stop the backend (as Drain), then release everything.
  virtual void Close(Done done) = 0;
  // Called once at engine start, before anything else: take over a backend
  // this handler started before an engine restart and that is still running
  // (from what it saved in the state store). Returns false when it had one
  // and it is gone; true when one is running and owned again, or when the
  // handler keeps no backend of its own (the default). The engine then makes
  // the target active again if it was active before the restart, and
  // otherwise asks the handler to Drain what it took over.
  virtual bool Adopt() { return true; }
  // High availability (docs/ha.md). TakeOver: this node became the master
  // and the target active without a warm, its backend running, started by
  // the former master: the handler owns it from now on as if its Warm had
  // started it (a drain stops it). Release: this node stopped deciding
  // (backup, fault): the handler no longer owns its backend and must neither
  // stop nor check it, at a drain or at Close either. Defaults: nothing.
  virtual void TakeOver() {}
  virtual void Release() {}
  // High availability: whether the backend runs, asked by a node that does
  // not own it (a backup following the master's backend, a new master before
  // it takes one over). RunningCheckInterval: how often a follower may ask
  // (a check may cost something, a cloud API call); nullopt, the default:
  // this kind cannot tell, and CheckRunning is never called. CheckRunning:
  // Done(ok) when the backend runs, Done(error saying why not) otherwise,
  // exactly once, on the loop, perhaps before it returns. It starts, stops
  // and takes over nothing, and leaves the handler as it found it: a Warm,
  // Drain, TakeOver or Release later behaves as without it. Unlike the calls
  // above it is not queued behind them (a follower's Close must not wait for
  // a check): the handler orders it with its own work.
  virtual std::optional<std::chrono::seconds> RunningCheckInterval() const {
    return std::nullopt;
  }
  virtual void CheckRunning(Done done) {
    done(common::Status::Unavailable("this kind cannot tell whether its backend runs"));
  }
};

// What a frontend kind's constructor gets.
struct FrontendContext {
  boost::asio::io_context& io;
  const config::Frontend& config;
  Logger log;                  // carries frontend=<name>
  std::function<void()> warm;  // ask for the target to be warmed; cheap, coalesced
  // Count a knock (proxygw_frontend_knocks_total): client traffic that asked
  // for the target, such as a request for static:http's page or a join.
  // Frontends that wake on traffic call it once per such request, beside
  // `warm`; whatever the target's state. Cheap.
  std::function<void()> knock = [] {};
  // For a frontend that holds first packets in the kernel (static:hold):
  Dataplane* dataplane = nullptr;             // null when only checking the config
  std::vector<ipc::netd::MappingKey> keys{};  // its mappings' keys, one per family served
  const config::Target* target = nullptr;     // the target it forwards to
};

// What a target kind's constructor gets.
struct TargetContext {
  boost::asio::io_context& io;
  const config::Target& config;
  Logger log;  // carries target=<name>
  StateStore& state;
  // The backend stopped by itself (crashed, exited) while not being drained.
  std::function<void(const std::string& why)> backend_exited;
  // The backend is running although the handler did not start it (a systemd
  // unit an operator started): the engine warms the target, as a frontend's
  // warm signal does, and the handler's Warm takes the running backend over.
  std::function<void()> backend_started = [] {};
};

// Constructors check their options (config.options) and report problems into
// `errors` with the option's location; they return null then. They must not
// start anything: --check-config calls them too, then throws the handler away.
using FrontendFactory = std::function<std::unique_ptr<FrontendHandler>(
    const FrontendContext& ctx, config::ErrorSink& errors)>;
using TargetFactory = std::function<std::unique_ptr<TargetHandler>(
    const TargetContext& ctx, config::ErrorSink& errors)>;

// The kinds a plugin registers, by bare name ("always", "cmd"); the engine
// prefixes the namespace.
struct Namespace {
  std::map<std::string, FrontendFactory> frontends;
  std::map<std::string, TargetFactory> targets;
};

// A loaded plugin, unloaded in reverse load order at shutdown.
class PluginInstance {
 public:
  virtual ~PluginInstance() = default;
  virtual void Unload() {}
};

struct PluginContext {
  boost::asio::io_context& io;
  Control& control;
  const config::Config& config;
  const config::Options* options;  // plugins.<namespace>; null when absent
  std::string ns;                  // the plugin's namespace
  Logger log;                      // carries plugin=<namespace>
};

// One plugin. `load` checks its config section (errors into `errors`, located)
// and registers its kinds into `ns`. With `start` false (--check-config) it
// must not open, bind or start anything and sets no instance; with `start`
// true it may (the ctl plugin opens its socket) and sets `*instance`.
struct PluginDef {
  const char* source;  // its folder under plugins/, as plugin.yaml names it
  void (*load)(PluginContext& ctx, Namespace& ns, config::ErrorSink& errors, bool start,
               std::unique_ptr<PluginInstance>* instance);
};

// The generated registration table (plugin.yaml order).
struct PluginEntry {
  const PluginDef* def;
  const char* ns;
};
extern const PluginEntry kPlugins[];
extern const std::size_t kPluginCount;

}  // namespace engine
