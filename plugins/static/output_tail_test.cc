// OutputTail against real files, its lines read back from the engine's log
// (a file, through SetUpLogging): each run logged once, a bounded rate and
// backlog, control characters escaped.
#include "plugins/static/output_tail.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

namespace plugins::static_ns {
namespace {

namespace fs = std::filesystem;

class OutputTailTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgw-tail-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    ASSERT_TRUE(engine::SetUpLogging((dir_ / "log").string(), config::LogLevel::kInfo).ok());
  }
  void TearDown() override {
    (void)engine::SetUpLogging("stderr", config::LogLevel::kInfo);
    fs::remove_all(dir_);
  }
  void Append(const std::string& text) { std::ofstream(dir_ / "out", std::ios::app) << text; }
  std::string Log() {
    std::ifstream in(dir_ / "log");
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }
  int Count(const std::string& needle) {
    std::string log = Log();
    int n = 0;
    for (auto at = log.find(needle); at != std::string::npos; at = log.find(needle, at + 1)) ++n;
    return n;
  }

  fs::path dir_;
  engine::Logger log_;
};

// Bug: every warm tailed the output file from offset 0, so each run logged
// every earlier run's output again (up to 4 MiB in one burst).
TEST_F(OutputTailTest, EachRunIsLoggedOnce) {
  OutputTail tail((dir_ / "out").string(), "stdout");
  tail.Begin();
  Append("first run\n");
  tail.Read(log_, true);
  tail.Begin();  // the second run
  Append("second run\n");
  tail.Read(log_, true);
  EXPECT_EQ(Count("line=\"first run\""), 1) << Log();
  EXPECT_EQ(Count("line=\"second run\""), 1) << Log();
}

TEST_F(OutputTailTest, LinesOverTheRateAreCountedNotLogged) {
  OutputTail::Limits limits;
  limits.lines_per_second = 10;
  OutputTail tail((dir_ / "out").string(), "stdout", limits);
  tail.Begin();
  std::string many;
  for (int i = 0; i < 50; ++i) many += "line " + std::to_string(i) + "\n";
  Append(many);
  tail.Read(log_, true);
  EXPECT_EQ(Count("msg=\"backend output\""), 10) << Log();
  EXPECT_EQ(Count("lines not logged (over the rate limit)\" stream=stdout lines=40 limit=10/s"), 1)
      << Log();
}

TEST_F(OutputTailTest, ABacklogBeyondTheBoundIsSkippedAndSaidSo) {
  OutputTail::Limits limits;
  limits.max_backlog = 1000;
  OutputTail tail((dir_ / "out").string(), "stdout", limits);
  tail.Begin();
  Append(std::string(5000, 'x') + "\n");
  tail.Read(log_, false);
  Append("after\n");
  tail.Read(log_, false);
  EXPECT_EQ(Count("backend output skipped"), 1) << Log();
  EXPECT_EQ(Count("line=after"), 1) << Log();
}

TEST_F(OutputTailTest, ControlCharactersAreEscaped) {
  OutputTail tail((dir_ / "out").string(), "stderr");
  tail.Begin();
  Append("50%\r100% \x1b[31mdone\x1b[0m\n");
  tail.Read(log_, true);
  EXPECT_EQ(Count("line=\"50%\\r100% \\x1b[31mdone\\x1b[0m\""), 1) << Log();
  EXPECT_EQ(Log().find('\x1b'), std::string::npos);
  EXPECT_EQ(Log().find('\r'), std::string::npos);
}

// static:exec fails a warm with the last line of its start command's stderr:
// the last line of this run, a final partial line included, never an
// earlier run's.
TEST_F(OutputTailTest, KeepsTheLastLineOfTheRun) {
  OutputTail tail((dir_ / "out").string(), "stderr");
  Append("old run's error\n");
  tail.Begin();
  EXPECT_EQ(tail.last_line(), "");
  Append("connecting\nerror: failed to get domain 'vm1'\n\n");
  tail.Read(log_, false);
  EXPECT_EQ(tail.last_line(), "error: failed to get domain 'vm1'");
  Append("no newline at the end");
  tail.Read(log_, true);
  EXPECT_EQ(tail.last_line(), "no newline at the end");
  tail.Begin();
  EXPECT_EQ(tail.last_line(), "");
}

}  // namespace
}  // namespace plugins::static_ns
