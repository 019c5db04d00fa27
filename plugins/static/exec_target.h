// static:exec: a target whose backend lives elsewhere (a VM, a cloud
// instance, a container) and is started and stopped by commands that run to
// completion: `start` when warming (exit 0 = started; otherwise the warm
// fails with the last line of its stderr), `stop` when draining, and an
// optional `check` every `check_interval` while active (non-zero = the
// backend is gone: the target goes inactive). Each command runs as a
// BackendProcess (`/bin/sh -c`, its own process group, a clean environment
// with PROXYGW_TARGET, PROXYGW_ACTION and PROXYGW_ENDPOINT_<NAME>), one at a
// time, killed (its process group) after `timeout`; a command is done when
// its shell exits, and what it leaves running is left alone. Output goes to the engine's log as static:cmd's does.
// A failed start is followed by a stop, so that a half-started instance is
// not left running. Whether the backend was started is kept in the state
// store, so that a restarted engine stops what an interrupted warm started.
// On an HA node that does not own the backend (docs/ha.md), `check` is also
// how the engine asks whether it runs (TargetHandler::CheckRunning, every
// `check_interval` on a backup): the same command, in the same queue, and
// nothing started, stopped or recorded; without `check` the kind cannot tell.
#pragma once

#include <memory>

#include "proxygw-engine/plugin_api.h"

namespace plugins::static_ns {

// Options: start, stop (required strings), check (string), check_interval
// (duration, default 30s, with check), timeout (duration, default 5m),
// environment (map of variable names to strings).
std::unique_ptr<engine::TargetHandler> NewExecTarget(const engine::TargetContext& ctx,
                                                     config::ErrorSink& errors);

}  // namespace plugins::static_ns
