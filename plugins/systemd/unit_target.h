// systemd:unit: a target whose backend is a systemd service of its own (its
// own user, sandbox and journal), started and stopped over the system bus.
// Warm: StartUnit(unit, "replace"), then the job's JobRemoved, then the
// unit must be active, all within the target's ready_timeout; the engine's
// readiness probe follows. Drain:
// StopUnit(unit, "replace") and its job, waited for at most stop_timeout
// (systemd goes on stopping the unit past it). In between, the target
// follows the unit (PropertiesChanged on its object): a unit that stops or
// fails while the target is warm or active is reported as the backend
// exiting, with the unit's result; a unit found active that the target does
// not run (at engine start, or started by an operator) is taken over
// through a warm (StartUnit of an active unit starts nothing). Whether the
// engine started the unit is kept in the state store: a restarted engine
// keeps an active target's unit and stops one an interrupted warm started;
// a drain stops only a unit the engine started or took over.
//
// The engine stays unprivileged: polkit lets its user start and stop the
// units of the config's systemd:unit targets (proxygw-engine
// --write-polkit-rule). Everything runs on the engine's loop; bus calls are
// asynchronous (SystemBus).
#pragma once

#include <functional>
#include <memory>

#include "common/status.h"
#include "plugins/systemd/unit_options.h"
#include "proxygw-engine/plugin_api.h"

namespace plugins::systemd {

class SystemBus;

// The shared connection to the system bus: the open one, or a new one when
// there is none (or it broke). Unavailable when the bus cannot be reached.
using BusSource = std::function<common::Result<std::shared_ptr<SystemBus>>()>;

// The handler of a target whose options were checked (ReadUnitOptions). It
// contacts the bus only once the engine calls it (Adopt, Warm, Drain).
std::unique_ptr<engine::TargetHandler> NewUnitTarget(const engine::TargetContext& ctx,
                                                     UnitOptions options, BusSource bus);

}  // namespace plugins::systemd
