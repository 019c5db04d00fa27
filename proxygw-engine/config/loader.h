// Loads a proxygw config file: YAML (yaml-cpp) into the typed Config, checking
// structure first and then meaning (names unique, references resolve, address
// families fit). Every problem of a file is reported at once, each with the
// file, line and column, and the field path: 
//   example.yaml:14:13: frontends[2].listen: port 0 is not allowed
// Touches nothing but the file it reads.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "proxygw-engine/config/config.h"

namespace config {

struct ConfigError {
  std::string file;
  Location location;  // line 0 when the error concerns the whole file
  std::string path;   // "frontends[2].listen"; empty for file-level errors
  std::string message;

  // "file:line:col: path: message"
  std::string ToString() const;
};

struct LoadResult {
  std::optional<Config> config;    // set only when errors is empty
  std::vector<ConfigError> errors;  // in file order

  bool ok() const { return errors.empty(); }
  // One error per line, each ending in '\n'.
  std::string ErrorText() const;
};

// Files larger than this are refused before parsing.
inline constexpr std::size_t kMaxConfigBytes = 4 << 20;

LoadResult LoadConfigFile(const std::string& path);

// Puts errors in file order; those without a place (file-level) go last.
void SortErrors(std::vector<ConfigError>* errors);
// `file` names the source in messages.
LoadResult LoadConfigString(std::string_view yaml, const std::string& file);

}  // namespace config
