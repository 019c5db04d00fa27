// The engine's counters by name (see the header).
#include "proxygw-engine/metrics.h"

namespace engine {

const TargetCounters* Metrics::FindTarget(const std::string& name) const {
  auto it = targets_.find(name);
  return it == targets_.end() ? nullptr : &it->second;
}

const FrontendCounters* Metrics::FindFrontend(const std::string& name) const {
  auto it = frontends_.find(name);
  return it == frontends_.end() ? nullptr : &it->second;
}

}  // namespace engine
