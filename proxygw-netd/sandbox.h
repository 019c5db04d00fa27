// Shrinking proxygw-netd once its sockets are open: keep CAP_NET_ADMIN and
// nothing else, become the netd user, forbid gaining privileges and being
// traced, then load the seccomp allow-list compiled from
// security/seccomp/proxygw-netd.policy. Runs in netd only, once, before the
// event loop.
#pragma once

#include <sys/types.h>

#include "common/status.h"

namespace netd {

// Drops every capability but CAP_NET_ADMIN (effective and permitted; the
// bounding set too when running as root) and every supplementary group (an
// error without CAP_SETGID), switches to uid/gid when not already running as
// them, clears ambient and
// inheritable capabilities, sets NO_NEW_PRIVS and makes the process
// non-dumpable, so that no process of another uid, nor the engine, can ptrace
// it or read its memory.
common::Status DropPrivileges(uid_t uid, gid_t gid);

enum class SeccompMode { kKill, kLog };

// Loads the allow-list; any other syscall kills the process (kKill) or is
// logged by the kernel and allowed (kLog, for diagnosis).
common::Status LoadSeccomp(SeccompMode mode);

// The syscall names of the allow-list, in policy order (for --help and tests).
const char* const* SeccompAllowList(std::size_t* count);

}  // namespace netd
