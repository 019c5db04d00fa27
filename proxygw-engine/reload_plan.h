// ReloadPlan: what a config reload changes, worked out from the running
// config and the new one before anything is touched. Targets and frontends
// are matched by name; one whose config differs in anything that has a
// meaning (kind, options, endpoints, timeouts, listen address, the target it
// forwards to...) is changed, and is replaced; where an item was written in
// the file, and in what order, is no change. A frontend whose target is
// replaced is replaced with it. An unchanged target whose frontends changed
// keeps its state and backend, and only its mappings are updated (remapped).
// Settings the running engine cannot change (users, sockets, the state
// directory, plugin sections) are refused with a message each. Pure
// functions; engine-side.
#pragma once

#include <string>
#include <vector>

#include "common/ipc/netd_protocol.h"
#include "proxygw-engine/config/config.h"
#include "proxygw-engine/config/loader.h"
#include "proxygw-engine/status.h"

namespace engine {

struct ReloadPlan {
  ChangeList targets;
  ChangeList frontends;
  // Unchanged targets whose mappings change (a frontend of theirs added,
  // removed or changed): updated in place, without a blip for the mappings
  // that stay.
  std::vector<std::string> remapped;
  bool log_changed = false;  // log.output or log.level
  // Settings that need a restart; the reload is refused when there is any.
  std::vector<config::ConfigError> restart_only;

  // True when it changes no target, frontend or mapping (reloading the same
  // file); the log settings aside.
  bool Empty() const;
};

ReloadPlan PlanReload(const config::Config& running, const config::Config& next);

// The DNAT mappings of target `target` in `cfg`: those of every frontend
// that forwards to it, in the config's order.
std::vector<ipc::netd::Mapping> TargetMappings(const config::Config& cfg,
                                               const std::string& target);

// The keys of frontend `f`'s mappings in `cfg`, one per family it serves.
std::vector<ipc::netd::MappingKey> FrontendKeys(const config::Config& cfg,
                                                const config::Frontend& f);

// Whether two YAML values mean the same: same kinds, scalars with the same
// text and the same resolved type (so `cold` and `"cold"` are the same,
// `"80"` and `80` differ), maps with the same keys (in any
// order) and values, sequences element by element. A value too large to
// compare (an alias bomb) is never the same.
bool SameValue(const YAML::Node& a, const YAML::Node& b);

}  // namespace engine
