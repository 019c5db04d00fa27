#include "proxygw-netd/sandbox.h"

#include <grp.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cap-ng.h>
#include <seccomp.h>

#include <cerrno>
#include <cstring>
#include <memory>
#include <string>

#include "common/c_free.h"

namespace netd {
namespace {

using common::Status;

// Generated at configure time from security/seccomp/proxygw-netd.policy (and,
// in sanitizer builds, proxygw-netd.sanitizer.policy): "name",
const char* const kAllowed[] = {
#include "proxygw_netd_seccomp.inc"
};

using SeccompCtx = std::unique_ptr<void, common::CFree<seccomp_release>>;  // scmp_filter_ctx

}  // namespace

const char* const* SeccompAllowList(std::size_t* count) {
  *count = sizeof kAllowed / sizeof kAllowed[0];
  return kAllowed;
}

Status DropPrivileges(uid_t uid, gid_t gid) {
  bool root = geteuid() == 0;
  // No supplementary groups, on every path: systemd's User= gives netd its
  // user's groups (initgroups) whatever the unit says, so the unit lends
  // CAP_SETGID for this call (capng_apply below drops it). Without it, refuse.
  if (getgroups(0, nullptr) != 0 && setgroups(0, nullptr) != 0) {
    return Status::FromErrno("cannot drop the supplementary groups (start netd as root, or with "
                             "CAP_SETGID as proxygw-netd.service does)", errno);
  }
  capng_clear(CAPNG_SELECT_BOTH);
  if (capng_update(CAPNG_ADD, static_cast<capng_type_t>(CAPNG_EFFECTIVE | CAPNG_PERMITTED),
                   CAP_NET_ADMIN) != 0) {
    return Status::Internal("capng_update(CAP_NET_ADMIN) failed");
  }
  if (root && getuid() != uid) {
    // Keeps CAP_NET_ADMIN across the uid change, drops supplementary groups
    // and empties the bounding set.
    int rc = capng_change_id(static_cast<int>(uid), static_cast<int>(gid),
                             static_cast<capng_flags_t>(CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING));
    if (rc != 0) {
      return Status::PermissionDenied("cannot switch to uid " + std::to_string(uid) + " gid " +
                                      std::to_string(gid) + " keeping CAP_NET_ADMIN (capng_change_id " +
                                      std::to_string(rc) + ")");
    }
  } else {
    if (getuid() != uid) {
      return Status::PermissionDenied("running as uid " + std::to_string(getuid()) +
                                      ", not root: cannot become uid " + std::to_string(uid));
    }
    // Already the netd user (systemd's User=): drop what else we hold. The
    // bounding set needs CAP_SETPCAP; systemd's CapabilityBoundingSet= sets it.
    if (capng_apply(CAPNG_SELECT_CAPS) != 0) {
      return Status::PermissionDenied("cannot drop capabilities (capng_apply)");
    }
  }
  if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) != 0 && errno != EINVAL) {
    return Status::FromErrno("clear ambient capabilities", errno);
  }
  if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0) {
    return Status::FromErrno("prctl(PR_SET_NO_NEW_PRIVS)", errno);
  }
  if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) != 0) {
    return Status::FromErrno("prctl(PR_SET_DUMPABLE, 0)", errno);
  }
  if (capng_have_capability(CAPNG_EFFECTIVE, CAP_NET_ADMIN) != 1) {
    return Status::PermissionDenied("CAP_NET_ADMIN is not effective after dropping privileges");
  }
  return Status::Ok();
}

Status LoadSeccomp(SeccompMode mode) {
  SeccompCtx ctx(seccomp_init(mode == SeccompMode::kKill ? SCMP_ACT_KILL_PROCESS : SCMP_ACT_LOG));
  if (!ctx) return Status::Internal("seccomp_init failed");
  for (const char* name : kAllowed) {
    int nr = seccomp_syscall_resolve_name(name);
    if (nr == __NR_SCMP_ERROR) {
      return Status::Internal(std::string("seccomp policy names an unknown syscall: ") + name);
    }
    // mmap only without PROT_EXEC: code injected into netd cannot map
    // executable memory, with or without systemd's MemoryDenyWriteExecute.
    // (Written out, not SCMP_A2: its compound literal is C99, not C++.)
    const scmp_arg_cmp no_exec{2, SCMP_CMP_MASKED_EQ, PROT_EXEC, 0};
    int rc = std::strcmp(name, "mmap") == 0
                 ? seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 1, no_exec)
                 : seccomp_rule_add(ctx.get(), SCMP_ACT_ALLOW, nr, 0);
    if (rc != 0) return Status::FromErrno(std::string("seccomp_rule_add ") + name, -rc);
  }
  int rc = seccomp_load(ctx.get());
  if (rc != 0) return Status::FromErrno("seccomp_load", -rc);
  return Status::Ok();
}

}  // namespace netd
