// Writing a file that root-side steps derive from the config (netd's policy,
// the polkit rule) so that its reader sees the old file or the new one,
// never half of it. Root-side code (proxygw-engine --write-*, the
// supervisor).
#pragma once

#include <string>

#include "common/status.h"

namespace config {

// Writes `text` to `path` with mode 0644: a temporary file beside it
// (`path`.new, O_EXCL, no symlink followed), fsync, rename. Error: the path
// and what failed; the temporary file is removed then.
common::Status WriteFileAtomically(const std::string& path, const std::string& text);

}  // namespace config
