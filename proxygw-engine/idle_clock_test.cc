// IdleClock: runs out idle_timeout after the target became active or its
// flows dropped to zero, never while flows exist, never blind.
#include "proxygw-engine/idle_clock.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "proxygw-engine/testing/loop.h"

namespace engine {
namespace {

using std::chrono::milliseconds;

class IdleClockTest : public ::testing::Test {
 protected:
  IdleClockTest()
      : clock_(
            io_, milliseconds(100), [this] { return flows_; }, [this] { ++ran_out_; },
            milliseconds(50)) {}
  void RunFor(milliseconds d) { testing::RunFor(io_, d); }

  boost::asio::io_context io_;
  std::optional<std::uint32_t> flows_ = 0;
  int ran_out_ = 0;
  IdleClock clock_;
};

TEST_F(IdleClockTest, RunsOutIdleTimeoutAfterStartWithNoFlow) {
  clock_.Start();
  EXPECT_TRUE(clock_.running());
  RunFor(milliseconds(60));
  EXPECT_EQ(ran_out_, 0);
  RunFor(milliseconds(150));
  EXPECT_EQ(ran_out_, 1);
  EXPECT_FALSE(clock_.running());
}

TEST_F(IdleClockTest, AFlowStopsItAndADropToZeroStartsItAfresh) {
  clock_.Start();
  flows_ = 2;
  clock_.OnFlows(2);
  EXPECT_FALSE(clock_.running());
  RunFor(milliseconds(250));
  EXPECT_EQ(ran_out_, 0);
  flows_ = 0;
  clock_.OnFlows(0);
  auto zero_at = std::chrono::steady_clock::now();
  while (ran_out_ == 0 && std::chrono::steady_clock::now() - zero_at < milliseconds(1000)) {
    RunFor(milliseconds(5));
  }
  EXPECT_EQ(ran_out_, 1);
  EXPECT_GE(std::chrono::steady_clock::now() - zero_at, milliseconds(95));
}

TEST_F(IdleClockTest, FlowsFoundWhenItRunsOutHoldItUntilTheyDropToZero) {
  clock_.Start();
  flows_ = 1;  // counted, but no OnFlows yet (the push is still on its way)
  RunFor(milliseconds(250));
  EXPECT_EQ(ran_out_, 0);
  EXPECT_FALSE(clock_.running());
  flows_ = 0;
  clock_.OnFlows(0);
  RunFor(milliseconds(250));
  EXPECT_EQ(ran_out_, 1);
}

TEST_F(IdleClockTest, NeverRunsOutWhileTheCountIsUnknown) {
  clock_.Start();
  flows_ = std::nullopt;
  RunFor(milliseconds(400));
  EXPECT_EQ(ran_out_, 0);
  EXPECT_TRUE(clock_.running()) << "it looks again every recheck_blind";
  flows_ = 0;
  RunFor(milliseconds(100));
  EXPECT_EQ(ran_out_, 1);
}

TEST_F(IdleClockTest, StopStopsItAndOnFlowsDoesNotStartItAgain) {
  clock_.Start();
  clock_.Stop();
  clock_.OnFlows(3);
  clock_.OnFlows(0);
  EXPECT_FALSE(clock_.running());
  RunFor(milliseconds(250));
  EXPECT_EQ(ran_out_, 0);
}

}  // namespace
}  // namespace engine
