// The config loader's second pass: rules that span fields and objects (unique
// names, references that resolve, protocols and address families that fit,
// listen addresses that do not collide). Engine-side only.
#pragma once

#include <set>
#include <string>

#include "proxygw-engine/config/config.h"
#include "proxygw-engine/config/yaml_reader.h"

namespace config {

// Checks `cfg` as read so far and reports into `sink`; fills each frontend's
// protocol from its endpoint when the file did not give one. Targets named in
// `broken_targets` failed to parse: references to them are not reported again.
void CheckSemantics(Config& cfg, ErrorSink& sink, const std::set<std::string>& broken_targets);

}  // namespace config
