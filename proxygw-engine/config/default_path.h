// Where the config file is when none is given on the command line:
// /etc/proxygw/proxygw.yaml, or, on a host upgraded from the original Go
// daemon that still has only its /etc/proxygw.yaml, that one. The engine,
// the supervisor and proxygwctl resolve it the same way. Config library.
#pragma once

#include <string>

namespace config {

inline constexpr const char* kDefaultConfigPath = "/etc/proxygw/proxygw.yaml";
inline constexpr const char* kOriginalConfigPath = "/etc/proxygw.yaml";

struct DefaultConfig {
  std::string path;
  std::string notice;  // one line when the original's path was taken; else empty
};

// `root` prefixes both paths (tests); "" in production.
DefaultConfig ResolveDefaultConfig(const std::string& root = "");

}  // namespace config
