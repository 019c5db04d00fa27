#include "plugins/systemd/unit_state.h"

namespace plugins::systemd {

UnitPhase Classify(const UnitState& s) {
  const std::string& a = s.active_state;
  if (a.empty()) return UnitPhase::kUnknown;
  // A unit can run although its file is gone or broken now (LoadState
  // not-found after a removal): what runs counts.
  if (a == "active" || a == "reloading" || a == "refreshing") return UnitPhase::kUp;
  if (a == "failed") return UnitPhase::kFailed;
  if (a == "inactive") {
    bool loaded = s.load_state.empty() || s.load_state == "loaded" || s.load_state == "stub";
    return loaded ? UnitPhase::kStopped : UnitPhase::kMissing;
  }
  // activating, deactivating, maintenance, and states of later systemd versions.
  return UnitPhase::kChanging;
}

std::optional<std::string> GoneReason(const std::string& unit, const UnitState& s) {
  std::string result = s.result.empty() ? "" : " (result: " + s.result + ")";
  switch (Classify(s)) {
    case UnitPhase::kFailed:
      return unit + " failed" + result;
    case UnitPhase::kStopped:
      return unit + " stopped" + result;
    case UnitPhase::kMissing:
      return unit + " not loaded (" + s.load_state + ")";
    default:
      return std::nullopt;
  }
}

std::string Describe(const UnitState& s) {
  if (s.active_state.empty()) return "unknown";
  std::string d = s.active_state;
  if (!s.sub_state.empty()) d += " (" + s.sub_state + ")";
  if (!s.result.empty() && s.result != "success") d += ", result " + s.result;
  if (!s.load_state.empty() && s.load_state != "loaded") d += ", " + s.load_state;
  return d;
}

}  // namespace plugins::systemd
