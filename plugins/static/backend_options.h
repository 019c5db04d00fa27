// What static:cmd and static:exec share: reading their duration and
// `environment` options, and the clean environment their commands run in
// (PATH and a few variables of the engine's, then the config's own; nothing
// of the service manager's). Static plugin, proxygw-engine.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "proxygw-engine/config/yaml_reader.h"

namespace plugins::static_ns {

using EnvVars = std::vector<std::pair<std::string, std::string>>;

// A duration option in whole seconds from 1 s to `max_s` (`max_text` names
// it in the error); nullopt when absent or wrong (reported).
std::optional<std::chrono::seconds> ReadSeconds(config::ErrorSink& errors, const config::Fields& f,
                                                std::string_view key, std::uint32_t max_s,
                                                const char* max_text);

// The `environment` option (a map of variable names to strings), if given.
EnvVars ReadEnvironment(config::ErrorSink& errors, const config::Fields& f);

// "NAME=value" for a backend command: PATH, HOME, USER, LOGNAME, LANG and TZ
// of the engine's, then `vars` (which override them).
std::vector<std::string> BackendEnvironment(const EnvVars& vars);

}  // namespace plugins::static_ns
