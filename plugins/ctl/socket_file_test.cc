#include "plugins/ctl/socket_file.h"

#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

namespace ctl_plugin {
namespace {

class CtlSocketFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ctl-socket-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/ctl.sock";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  static bool Connects(const std::string& path) {
    common::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path.c_str());
    return ::connect(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  }

  // A socket file nobody listens on, as a killed engine leaves it.
  void MakeStaleSocket() {
    common::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr{};
    addr.sun_family = AF_UNIX;
    std::snprintf(addr.sun_path, sizeof addr.sun_path, "%s", path_.c_str());
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }

  std::string dir_;
  std::string path_;
};

TEST_F(CtlSocketFile, CreatesAListeningSocketWithTheMode) {
  auto s = ListenAt(path_, 0640, 8);
  ASSERT_TRUE(s.ok()) << s.status().message();
  struct stat st {};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_TRUE(S_ISSOCK(st.st_mode));
  EXPECT_EQ(st.st_mode & 07777, 0640u);
  EXPECT_EQ(st.st_ino, s->file.ino);
  EXPECT_TRUE(Connects(path_));
}

// The supervisor binds the socket as root for the engine's user (issue 10).
TEST_F(CtlSocketFile, SetsTheOwner) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root to give a file away";
  auto s = ListenAt(path_, 0660, 8, 65534, 65533);
  ASSERT_TRUE(s.ok()) << s.status().message();
  struct stat st {};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_gid, 65533u);
  EXPECT_EQ(st.st_mode & 07777, 0660u);
}

// B2: a socket file left by a dead engine no longer blocks the next start.
TEST_F(CtlSocketFile, ReplacesAStaleSocket) {
  MakeStaleSocket();
  EXPECT_FALSE(Connects(path_));
  auto s = ListenAt(path_, 0660, 8);
  ASSERT_TRUE(s.ok()) << s.status().message();
  EXPECT_TRUE(Connects(path_));
}

TEST_F(CtlSocketFile, RefusesALiveSocket) {
  auto first = ListenAt(path_, 0660, 8);
  ASSERT_TRUE(first.ok());
  auto second = ListenAt(path_, 0660, 8);
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), common::Status::Code::kAlreadyExists);
  EXPECT_EQ(second.status().message(),
            "ctl socket \"" + path_ +
                "\" is in use: another proxygw-engine is running and accepting connections on it; "
                "stop it first");
  struct stat st {};
  ASSERT_EQ(::lstat(path_.c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, first->file.ino);  // untouched
  EXPECT_TRUE(Connects(path_));
}

TEST_F(CtlSocketFile, RefusesAFileThatIsNotASocket) {
  std::ofstream(path_) << "keep me\n";
  auto s = ListenAt(path_, 0660, 8);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(), "ctl socket \"" + path_ +
                                      "\": the path exists and is not a socket; refusing to "
                                      "replace it (remove it, or choose another path)");
  std::ifstream in(path_);
  std::string line;
  std::getline(in, line);
  EXPECT_EQ(line, "keep me");
}

TEST_F(CtlSocketFile, ReportsAMissingDirectory) {
  auto s = ListenAt(dir_ + "/nope/ctl.sock", 0660, 8);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message(),
            "ctl socket \"" + dir_ + "/nope/ctl.sock\": bind: No such file or directory");
}

TEST_F(CtlSocketFile, RemovesOnlyItsOwnFile) {
  auto s = ListenAt(path_, 0660, 8);
  ASSERT_TRUE(s.ok());
  EXPECT_TRUE(RemoveSocketFile(path_, s->file).ok());
  EXPECT_FALSE(std::filesystem::exists(path_));
  EXPECT_TRUE(RemoveSocketFile(path_, s->file).ok());  // already gone

  auto mine = ListenAt(path_, 0660, 8);
  ASSERT_TRUE(mine.ok());
  ASSERT_EQ(::unlink(path_.c_str()), 0);
  auto theirs = ListenAt(path_, 0660, 8);  // a newer engine took the path
  ASSERT_TRUE(theirs.ok());
  common::Status st = RemoveSocketFile(path_, mine->file);
  EXPECT_EQ(st.code(), common::Status::Code::kAlreadyExists);
  EXPECT_EQ(st.message(),
            "ctl socket \"" + path_ + "\" was replaced by another file; leaving it in place");
  EXPECT_TRUE(Connects(path_));
}

}  // namespace
}  // namespace ctl_plugin
