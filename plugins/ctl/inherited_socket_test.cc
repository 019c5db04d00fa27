#include "plugins/ctl/inherited_socket.h"

#include <fcntl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <string>

namespace ctl_plugin {
namespace {

class CtlInheritedSocket : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ctl-inherited-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/ctl.sock";
  }
  void TearDown() override {
    for (const char* v : {"LISTEN_PID", "LISTEN_FDS", "LISTEN_FDNAMES"}) ::unsetenv(v);
    std::filesystem::remove_all(dir_);
  }

  // A Unix socket of `type` bound to `path`, listening when `listening`.
  static common::UniqueFd Bound(const std::string& path, int type = SOCK_STREAM,
                                bool listening = true) {
    common::UniqueFd fd(::socket(AF_UNIX, type | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    EXPECT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    if (listening) {
      EXPECT_EQ(::listen(fd.get(), 8), 0);
    }
    return fd;
  }

  // Hands `fd` down to this very process as the supervisor hands the socket
  // to the engine: descriptor 3, LISTEN_PID (this process), LISTEN_FDS=1,
  // LISTEN_FDNAMES=`name`. Descriptor 3 then belongs to whoever takes it.
  // What was there before can only be one the test runner left open:
  // nothing in these tests holds it.
  static void PassDown(common::UniqueFd fd, const char* name) {
    if (fd.get() != 3) {
      ASSERT_EQ(::dup2(fd.get(), 3), 3);
    } else {
      fd.Release();
    }
    ::setenv("LISTEN_PID", std::to_string(::getpid()).c_str(), 1);
    ::setenv("LISTEN_FDS", "1", 1);
    ::setenv("LISTEN_FDNAMES", name, 1);
  }

  // Passes `fd` down as "ctl" and expects it refused with `why`, and closed.
  void ExpectRefused(common::UniqueFd fd, const std::string& why) {
    PassDown(std::move(fd), "ctl");
    auto r = TakeInheritedSocket(path_);
    ASSERT_FALSE(r.ok());
    EXPECT_EQ(r.status().code(), common::Status::Code::kInvalidArgument);
    EXPECT_EQ(r.status().message(), "inherited ctl socket (fd 3) " + why);
    EXPECT_EQ(::fcntl(3, F_GETFD), -1);
  }

  std::string dir_;
  std::string path_;
};

TEST_F(CtlInheritedSocket, NothingPassedIsNothingTaken) {
  auto r = TakeInheritedSocket(path_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->valid());
}

TEST_F(CtlInheritedSocket, TakesAListeningSocketBoundToThePath) {
  PassDown(Bound(path_), "ctl");
  auto r = TakeInheritedSocket(path_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->get(), 3);
  // Backends started later do not see the variables; nor the descriptor.
  EXPECT_EQ(std::getenv("LISTEN_FDS"), nullptr);
  EXPECT_EQ(std::getenv("LISTEN_PID"), nullptr);
  EXPECT_EQ(::fcntl(3, F_GETFD), FD_CLOEXEC);
}

TEST_F(CtlInheritedSocket, LeavesOtherNamesAlone) {
  PassDown(Bound(path_), "metrics");
  auto r = TakeInheritedSocket(path_);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_FALSE(r->valid());
  EXPECT_EQ(::fcntl(3, F_GETFD), FD_CLOEXEC);
  ::close(3);
}

// The config names another path than the one bound (it was edited since).
TEST_F(CtlInheritedSocket, RefusesASocketBoundElsewhere) {
  ExpectRefused(Bound(dir_ + "/old.sock"),
                "is not a listening Unix stream socket bound to \"" + path_ + "\"");
}

TEST_F(CtlInheritedSocket, RefusesASocketThatDoesNotListen) {
  ExpectRefused(Bound(path_, SOCK_STREAM, /*listening=*/false),
                "is not a listening Unix stream socket bound to \"" + path_ + "\"");
}

TEST_F(CtlInheritedSocket, RefusesADatagramSocket) {
  ExpectRefused(Bound(path_, SOCK_DGRAM, /*listening=*/false),
                "is not a listening Unix stream socket bound to \"" + path_ + "\"");
}

}  // namespace
}  // namespace ctl_plugin
