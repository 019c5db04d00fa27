// RetryTimer: a step runs after its back-off wait, once; a new step replaces
// a waiting one; Hurry runs it at once without resetting the back-off.
#include "proxygw-engine/retry_timer.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "proxygw-engine/testing/loop.h"

namespace engine {
namespace {

using std::chrono::milliseconds;

class RetryTimerTest : public ::testing::Test {
 protected:
  void RunFor(milliseconds d) { testing::RunFor(io_, d); }
  boost::asio::io_context io_;
};

TEST_F(RetryTimerTest, RunsTheStepAfterTheWaitOnce) {
  RetryTimer r(io_, Backoff(milliseconds(50), milliseconds(400)));
  int runs = 0;
  auto start = std::chrono::steady_clock::now();
  std::chrono::steady_clock::time_point ran;
  EXPECT_EQ(r.Schedule([&] {
    ++runs;
    ran = std::chrono::steady_clock::now();
  }),
            milliseconds(50));
  EXPECT_TRUE(r.waiting());
  EXPECT_EQ(runs, 0) << "never inside Schedule";
  RunFor(milliseconds(300));
  EXPECT_EQ(runs, 1);
  EXPECT_GE(ran - start, milliseconds(45));
  EXPECT_FALSE(r.waiting());
}

TEST_F(RetryTimerTest, ANewStepReplacesTheWaitingOneAndWaitsLonger) {
  RetryTimer r(io_, Backoff(milliseconds(20), milliseconds(400)));
  std::vector<int> ran;
  r.Schedule([&] { ran.push_back(1); });
  EXPECT_EQ(r.Schedule([&] { ran.push_back(2); }), milliseconds(40));
  RunFor(milliseconds(200));
  EXPECT_EQ(ran, std::vector<int>{2});
  EXPECT_EQ(r.failures(), 2);
  r.Reset();
  EXPECT_EQ(r.Schedule([] {}), milliseconds(20));
}

TEST_F(RetryTimerTest, HurryRunsTheWaitingStepNowAndKeepsTheBackoff) {
  RetryTimer r(io_, Backoff(milliseconds(10000), milliseconds(20000)));
  int runs = 0;
  r.Schedule([&] { ++runs; });
  r.Hurry();
  EXPECT_EQ(runs, 0) << "posted, not run inside Hurry";
  RunFor(milliseconds(50));
  EXPECT_EQ(runs, 1);
  r.Hurry();  // nothing waits: nothing runs
  RunFor(milliseconds(20));
  EXPECT_EQ(runs, 1);
  EXPECT_EQ(r.Schedule([] {}), milliseconds(20000)) << "Hurry is not a Reset";
}

TEST_F(RetryTimerTest, CancelAndDestructionForgetTheStep) {
  int runs = 0;
  {
    RetryTimer r(io_, Backoff(milliseconds(10), milliseconds(10)));
    r.Schedule([&] { ++runs; });
    r.Cancel();
    EXPECT_FALSE(r.waiting());
    r.Schedule([&] { ++runs; });
    r.Hurry();
  }
  RunFor(milliseconds(100));
  EXPECT_EQ(runs, 0);
}

}  // namespace
}  // namespace engine
