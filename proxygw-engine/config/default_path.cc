#include "proxygw-engine/config/default_path.h"

#include <sys/stat.h>

namespace config {

DefaultConfig ResolveDefaultConfig(const std::string& root) {
  const std::string ours = root + kDefaultConfigPath;
  const std::string original = root + kOriginalConfigPath;
  struct stat st {};
  if (::stat(ours.c_str(), &st) != 0 && ::stat(original.c_str(), &st) == 0) {
    return {original, "no " + ours + "; using " + original +
                          " (the original proxygw's default path; move it to " + ours +
                          " to silence this)"};
  }
  return {ours, ""};
}

}  // namespace config
