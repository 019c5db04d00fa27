// Go duration syntax ("90s", "5m", "1h30m", "1.5h", "250ms"), as the
// original's configs write flow_timeout and idle_timeout. Used by the config
// loader; pure functions, no I/O.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace config {

// Parses Go's time.ParseDuration syntax: an optional sign, then one or more
// decimal numbers each followed by a unit (ns, us, µs, ms, s, m, h); "0" alone
// is allowed. Errors name the text and what is wrong with it.
common::Result<std::chrono::nanoseconds> ParseGoDuration(std::string_view text);

// Whole seconds as a duration that ParseGoDuration reads back, without zero
// units: 90 -> "1m30s", 3600 -> "1h", 0 -> "0s".
std::string FormatSeconds(std::uint64_t seconds);

}  // namespace config
