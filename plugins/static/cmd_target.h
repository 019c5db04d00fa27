// static:cmd: a target whose backend is a shell command. Warming runs
// `/bin/sh -c <command>` in a new session (its own process group); draining
// sends SIGTERM to the group and SIGKILL after `stop_timeout`. Its stdout and
// stderr go to files in the engine's state directory, which the engine tails
// into its log (target=<name> stream=stdout|stderr): a file, unlike a pipe,
// does not break when the engine dies, so an engine crash does not take the
// backend (and its players) down. The pid and start time are kept in the
// state store, so that a restarted engine can adopt the process (checked
// against pid reuse by its start time) and drain it later. A backend that
// exits on its own is reported to the engine.
#pragma once

#include <memory>

#include "proxygw-engine/plugin_api.h"

namespace plugins::static_ns {

// Options: command (required string), stop_timeout (duration, default 10s).
std::unique_ptr<engine::TargetHandler> NewCmdTarget(const engine::TargetContext& ctx,
                                                    config::ErrorSink& errors);

}  // namespace plugins::static_ns
