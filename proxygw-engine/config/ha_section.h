// The config's optional `ha` section (docs/ha.md): read into config::HaConfig
// by the loader. Errors are located like every other config error.
#pragma once

#include "proxygw-engine/config/config.h"
#include "proxygw-engine/config/yaml_reader.h"

namespace config {

// Reads `top`'s "ha" mapping, if written, into `out` (enabled, initial_role).
// `ha: {}` or `ha:` alone enables HA with the defaults. Problems go to `sink`.
void ReadHaSection(ErrorSink& sink, const Fields& top, HaConfig* out);

}  // namespace config
