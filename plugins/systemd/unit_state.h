// What a systemd unit's state means for a systemd:unit target: systemd's
// LoadState, ActiveState, SubState and the service's Result (as the unit's
// D-Bus properties carry them) mapped to "up", "on its way", "stopped",
// "failed" or "missing", and the reason a target reports when its unit went
// away. Pure functions, no bus; proxygw-engine's systemd plugin.
#pragma once

#include <optional>
#include <string>

namespace plugins::systemd {

// The properties of a unit the target follows; empty until read.
struct UnitState {
  std::string load_state;    // loaded, not-found, bad-setting, error, masked
  std::string active_state;  // active, reloading, inactive, failed, activating, deactivating
  std::string sub_state;     // running, dead, auto-restart, ...
  std::string result;        // the service's: success, exit-code, signal, timeout, ...
};

enum class UnitPhase {
  kUnknown,   // nothing read yet
  kUp,        // active (or reloading): the backend runs
  kChanging,  // activating, deactivating (also systemd's auto-restart): wait
  kStopped,   // inactive
  kFailed,    // failed
  kMissing,   // not loaded (no such unit, a bad unit file, masked) and not running
};

UnitPhase Classify(const UnitState& s);

// Why the backend is gone, for a unit in kStopped, kFailed or kMissing:
// "minecraft.service failed (result: signal)", "minecraft.service stopped
// (result: success)", "minecraft.service not loaded (not-found)". nullopt in
// the other phases.
std::optional<std::string> GoneReason(const std::string& unit, const UnitState& s);

// "active (running)", "failed (signal)": the state in a log line or message.
std::string Describe(const UnitState& s);

}  // namespace plugins::systemd
