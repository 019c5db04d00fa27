// What systemd is doing with the engine's own unit, asked over the system bus
// (sd-bus) when the engine is told to stop. Under systemd a SIGTERM means
// either "stop" (drain: backends stop, forwarding goes) or the first half of
// "restart" (keep: the next engine adopts backends and flows); only the unit's
// pending job tells the two apart. Runs in proxygw-engine's main(), on the
// event loop's thread; the bus calls block for at most a few seconds.
#pragma once

#include "common/status.h"

namespace engine {

enum class PendingJob {
  kNone,     // no job: `systemctl kill`, `kill -TERM`, or the unit is not ours
  kStop,     // stop (also a system shutdown)
  kRestart,  // restart, try-restart, reload-or-restart
  kOther,    // any other job type
};

// The job systemd has queued for the unit whose main process is this
// process. NotFound when this process was not started by systemd ($INVOCATION_ID
// unset: run by hand or by the proxygw supervisor; no bus is contacted then)
// or is not its unit's main process; Unavailable when the system bus or
// systemd cannot be asked (the message says why).
common::Result<PendingJob> PendingJobOfOwnUnit();

}  // namespace engine
