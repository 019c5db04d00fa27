#include "common/proc_file.h"

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include <gtest/gtest.h>

namespace common {
namespace {

// Opens /proc/<child>/stat, then lets the child exit and reaps it: a read
// after that fails with ESRCH, as it does when a backend exits between the
// engine's open and read of its stat file.
UniqueFd OpenStatOfAReapedChild() {
  int go[2];
  EXPECT_EQ(::pipe(go), 0);
  pid_t pid = ::fork();
  if (pid == 0) {
    ::close(go[1]);
    char c;
    (void)::read(go[0], &c, 1);
    ::_exit(0);
  }
  UniqueFd fd(::open(("/proc/" + std::to_string(pid) + "/stat").c_str(), O_RDONLY | O_CLOEXEC));
  ::close(go[0]);
  ::close(go[1]);  // the child's read returns: it exits
  int status = 0;
  EXPECT_EQ(::waitpid(pid, &status, 0), pid);
  return fd;
}

TEST(ReadAll, AProcessGoneBetweenOpenAndReadIsNulloptNotAnException) {
  UniqueFd fd = OpenStatOfAReapedChild();
  ASSERT_TRUE(fd.valid());
  EXPECT_EQ(ReadAll(fd.get()), std::nullopt);
}

// What the engine did before ReadAll, and why it is gone: libstdc++'s filebuf
// throws from underflow on the read error, and istreambuf_iterator lets it
// through (the engine terminated while draining a backend).
TEST(ReadAll, AnIstreambufIteratorThrowsInTheSameCase) {
  int status = 0;
  pid_t pid = ::fork();
  if (pid == 0) {
    // In a child: a throw that escapes must not take the test runner down.
    UniqueFd fd = OpenStatOfAReapedChild();
    std::ifstream in("/proc/self/fd/" + std::to_string(fd.get()));
    try {
      std::string s((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    } catch (const std::ios_base::failure&) {
      ::_exit(3);
    }
    ::_exit(0);
  }
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 3);
}

TEST(ReadProcFile, ReadsAWholeFileAndNulloptForAMissingOne) {
  auto own = ReadProcFile("/proc/self/stat");
  ASSERT_TRUE(own.has_value());
  EXPECT_NE(own->find(") "), std::string::npos);
  EXPECT_EQ(ReadProcFile("/proc/0/stat"), std::nullopt);
}

}  // namespace
}  // namespace common
