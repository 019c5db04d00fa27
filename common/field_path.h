// Field paths in error messages ("frontends[2].listen", "body.name"): shared
// by the config loader and the ctl protocol's decoder.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace common {

// "path.key", or "key" when path is empty.
inline std::string JoinPath(std::string_view path, std::string_view key) {
  if (path.empty()) return std::string(key);
  std::string out(path);
  out += '.';
  out += key;
  return out;
}

// "path[i]"
inline std::string IndexPath(std::string_view path, std::size_t i) {
  return std::string(path) + "[" + std::to_string(i) + "]";
}

}  // namespace common
