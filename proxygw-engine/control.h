// Control: what the ctl plugin may ask of the engine. Implemented by the
// engine; called on the engine's event loop only.
#pragma once

#include <string>

#include "common/ha_role.h"
#include "common/status.h"
#include "proxygw-engine/status.h"

namespace engine {

class Metrics;

class Control {
 public:
  virtual ~Control() = default;

  virtual StatusSnapshot Status() const = 0;

  // Asks target `name` to warm (drain). Ok when the request was accepted or
  // there was nothing to do (already warming/active; already inactive or
  // draining). NotFound: no such target. Unavailable: not possible in the
  // target's current state (a drain while it is warming, anything once it
  // is closed); the message says why and what to do.
  virtual common::Status Warm(const std::string& name) = 0;
  virtual common::Status Drain(const std::string& name) = 0;

  // Reads the config file again and applies what changed (the engine's
  // SIGHUP does the same). Refused, with located errors, when the new config
  // is invalid or changes a setting that needs a restart; the running config
  // then stays. Returns once the plan is under way (drains and starts go on
  // in the background).
  virtual ReloadReport Reload() = 0;

  // keepalived's notify hook says the node's HA role (docs/ha.md). Ok when
  // taken (or already the role); `*previous` (when not null) is set to the
  // role before, on success only. InvalidArgument: the config has no ha
  // section. Unavailable: the engine is shutting down.
  virtual common::Status SetRole(common::HaRole role, common::HaRole* previous) = 0;
  // The engine's counters (metrics.h), for the metrics plugin; null when
  // there are none (a test's fake).
  virtual const Metrics* metrics() const { return nullptr; }
};

}  // namespace engine
