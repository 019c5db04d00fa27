// The server-list icon of minecraft:server: a 64×64 PNG file, read once when
// the frontend is built (so that --check-config checks it too) and sent as a
// data URI in every status response. Runs inside proxygw-engine.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "common/status.h"

namespace plugins::minecraft {

// Large enough for any reasonable 64×64 icon; small enough that its base64
// and the texts fit the status response's 32767-character String.
inline constexpr std::size_t kMaxFaviconBytes = 20000;

// "data:image/png;base64,..." for the PNG in `bytes`. Errors say what is
// wrong: not a PNG, not 64×64 (with the size found), too large.
common::Result<std::string> FaviconDataUri(std::string_view bytes);

// Reads `path` and returns FaviconDataUri of it; errors name the file
// problem ("cannot read /x.png: Permission denied").
common::Result<std::string> ReadFavicon(const std::string& path);

std::string Base64(std::string_view bytes);

}  // namespace plugins::minecraft
