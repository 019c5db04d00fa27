// The seccomp allow-list, in forked children: every name in the policy
// resolves, allowed syscalls work, and one outside the list kills the process.
#include "proxygw-netd/sandbox.h"

#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <set>
#include <string>

#include <gtest/gtest.h>

namespace netd {
namespace {

// Runs `body` in a child after loading the filter; the child's wait status.
template <class F>
int InSandbox(SeccompMode mode, F body) {
  pid_t pid = fork();
  if (pid == 0) {
    if (!LoadSeccomp(mode).ok()) _exit(100);
    body();
    _exit(0);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  return status;
}

TEST(NetdSeccomp, ThePolicyNamesRealSyscalls) {
  std::size_t n = 0;
  const char* const* names = SeccompAllowList(&n);
  ASSERT_GT(n, 10u);
  bool has_socket = false;
  for (std::size_t i = 0; i < n; ++i) has_socket |= std::strcmp(names[i], "socket") == 0;
  EXPECT_FALSE(has_socket) << "netd must not open sockets once it serves";
  int st = InSandbox(SeccompMode::kKill, [] {});
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0) << "LoadSeccomp failed (100) or an allowed call was refused";
}

// docs/privileged-surface.md, "Not allowed, on purpose": none of these is in
// the allow-list (sanitizer builds add openat, with pipe2, for their reports,
// and only those builds).
TEST(NetdSeccomp, TheDocumentedRefusalsAreNotAllowed) {
  std::size_t n = 0;
  const char* const* names = SeccompAllowList(&n);
  const std::set<std::string> allowed(names, names + n);
  for (const char* name :
       {"socket", "socketpair", "connect", "bind", "listen", "open", "creat", "openat2",
        "execve", "execveat", "clone", "clone3", "fork", "vfork", "ptrace", "setuid", "setgid",
        "setreuid", "setregid", "setresuid", "setresgid", "setgroups", "setfsuid", "capset",
        "mount", "umount2", "bpf", "ioctl", "unlink", "unlinkat", "rename", "renameat",
        "renameat2", "mkdir", "mkdirat", "chmod", "fchmod", "fchmodat", "chown", "fchown",
        "fchownat", "truncate", "ftruncate", "mprotect", "init_module", "kexec_load"}) {
    EXPECT_EQ(allowed.count(name), 0u) << name;
  }
  if (allowed.count("pipe2") == 0) {  // not a sanitizer build's list
    EXPECT_EQ(allowed.count("openat"), 0u);
  }
}

TEST(NetdSeccomp, AllowedCallsWork) {
  int st = InSandbox(SeccompMode::kKill, [] {
    const char msg[] = "";
    if (write(STDERR_FILENO, msg, 0) != 0) _exit(1);
    void* p = malloc(1 << 20);  // mmap
    free(p);
  });
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

TEST(NetdSeccomp, SocketKillsTheProcess) {
  int st = InSandbox(SeccompMode::kKill, [] { socket(AF_INET, SOCK_STREAM, 0); });
  ASSERT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGSYS);
}

// Issue 13: mmap was allowed with any protection, so code injected into a
// netd running without systemd's MemoryDenyWriteExecute could map executable
// memory. Only mmap without PROT_EXEC is allowed now.
TEST(NetdSeccomp, ExecutableMemoryKillsTheProcess) {
  int st = InSandbox(SeccompMode::kKill, [] {
    void* p = mmap(nullptr, 4096, PROT_READ | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p != MAP_FAILED) _exit(2);
  });
  ASSERT_TRUE(WIFSIGNALED(st)) << "exit status " << WEXITSTATUS(st);
  EXPECT_EQ(WTERMSIG(st), SIGSYS);
}

TEST(NetdSeccomp, ExecKillsTheProcess) {
  int st = InSandbox(SeccompMode::kKill, [] {
    char* argv[] = {const_cast<char*>("/bin/true"), nullptr};
    execv("/bin/true", argv);
  });
  ASSERT_TRUE(WIFSIGNALED(st));
  EXPECT_EQ(WTERMSIG(st), SIGSYS);
}

TEST(NetdSeccomp, LogModeAllowsButDoesNotKill) {
  int st = InSandbox(SeccompMode::kLog, [] {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    _exit(fd >= 0 ? 0 : 1);
  });
  ASSERT_TRUE(WIFEXITED(st));
  EXPECT_EQ(WEXITSTATUS(st), 0);
}

}  // namespace
}  // namespace netd
