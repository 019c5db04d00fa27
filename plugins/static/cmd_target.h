// static:cmd: a target whose backend is a shell command, run as a
// BackendProcess (its own process group, a clean environment, only stdin,
// stdout and stderr; stopped as a whole group with stop_timeout of grace).
// Its stdout and stderr go to files in the engine's state directory, followed
// into the engine's log by an OutputTail each: a file, unlike a pipe, does
// not break when the engine dies, so an engine crash does not take the
// backend (and its players) down. The pid and start time are kept in the
// state store, so that a restarted engine can adopt the process (checked
// against pid reuse by its start time) and drain it later. A backend that
// exits on its own is reported to the engine once its whole group is gone.
#pragma once

#include <memory>

#include "proxygw-engine/plugin_api.h"

namespace plugins::static_ns {

// Options: command (required string), stop_timeout (duration, default 10s),
// environment (map of variable names to strings).
std::unique_ptr<engine::TargetHandler> NewCmdTarget(const engine::TargetContext& ctx,
                                                    config::ErrorSink& errors);

}  // namespace plugins::static_ns
