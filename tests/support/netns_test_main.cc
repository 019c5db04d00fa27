// main() for test binaries that need the kernel's netfilter: it moves the whole
// test process into a fresh network namespace (unshare(CLONE_NEWNET)) before
// any test runs, so nothing a test does can reach the root namespace's
// ruleset, conntrack table or sysctls, and brings up its loopback. Without
// CAP_NET_ADMIN (not root) every test is skipped, not failed.
#include <net/if.h>
#include <sched.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

#include <gtest/gtest.h>

namespace {

bool g_in_netns = false;

class NetnsEnvironment : public ::testing::Environment {
 public:
  void SetUp() override {
    if (!g_in_netns) GTEST_SKIP() << "needs CAP_NET_ADMIN to create a network namespace";
  }
};

bool LoopbackUp() {
  int fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  ifreq ifr{};
  std::strncpy(ifr.ifr_name, "lo", IFNAMSIZ - 1);
  bool ok = ioctl(fd, SIOCGIFFLAGS, &ifr) == 0;
  ifr.ifr_flags |= IFF_UP;
  ok = ok && ioctl(fd, SIOCSIFFLAGS, &ifr) == 0;
  close(fd);
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (unshare(CLONE_NEWNET) == 0) {
    g_in_netns = LoopbackUp();
    if (!g_in_netns) std::fprintf(stderr, "netns: cannot bring up lo: %s\n", std::strerror(errno));
  } else {
    std::fprintf(stderr, "netns: unshare(CLONE_NEWNET): %s; skipping\n", std::strerror(errno));
  }
  ::testing::AddGlobalTestEnvironment(new NetnsEnvironment);
  return RUN_ALL_TESTS();
}
