// systemd:unit's options, checked with their locations: `unit` (the service
// unit the target starts and stops) and `stop_timeout` (how long a drain
// waits for the unit's stop job). Pure functions; the systemd plugin in
// proxygw-engine (and --check-config) calls them.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "proxygw-engine/config/config.h"
#include "proxygw-engine/config/yaml_reader.h"

namespace plugins::systemd {

struct UnitOptions {
  std::string unit;                            // "minecraft.service"
  std::chrono::seconds stop_timeout{10};       // as static:cmd's default
};

// A full service unit name as systemd spells it: "name.service" or
// "name@instance.service" (letters, digits and ":_.\-" on either side of the
// @), at most 255 characters. Templates ("name@.service") are not units.
bool IsServiceUnitName(std::string_view name);

// The target's options; nullopt when they are wrong (every problem reported
// into `errors` with the option's location).
std::optional<UnitOptions> ReadUnitOptions(const config::Target& target, config::ErrorSink& errors);

}  // namespace plugins::systemd
