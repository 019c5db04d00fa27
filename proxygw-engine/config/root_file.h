// Writing a file so that its reader sees the old file or the new one, never
// half of it: the files root-side steps derive from the config (netd's
// policy, the polkit rule; proxygw-engine --write-*, the supervisor) and the
// engine's state files (StateStore).
#pragma once

#include <sys/types.h>

#include <string>

#include "common/status.h"

namespace config {

// Writes `text` to `path` with `mode`: a temporary file beside it
// (`path`.new, O_EXCL, no symlink followed), fsync unless `durable` is false,
// rename. Without the fsync the file is still whole or old for any reader
// while the host runs, but may be empty after a power loss. Error: the path
// and what failed; the temporary file is removed then.
common::Status WriteFileAtomically(const std::string& path, const std::string& text,
                                   mode_t mode = 0644, bool durable = true);

}  // namespace config
