// RepeatedFailure: a failure is logged when new, then at most once per
// interval with its count.
#include "proxygw-engine/repeated_failure.h"

#include <gtest/gtest.h>

namespace engine {
namespace {

using std::chrono::seconds;

TEST(RepeatedFailure, ANewFailureIsNewsAndItsRepeatsAreQuietForAWhile) {
  RepeatedFailure f(seconds(60));
  auto t = RepeatedFailure::Clock::time_point() + seconds(1000);
  EXPECT_EQ(f.Note("busy", t), 0);
  for (int i = 1; i <= 50; ++i) EXPECT_EQ(f.Note("busy", t + seconds(i)), std::nullopt);
  EXPECT_EQ(f.Note("busy", t + seconds(60)), 51) << "once a minute, with the count since";
  EXPECT_EQ(f.Note("busy", t + seconds(61)), std::nullopt);
}

TEST(RepeatedFailure, AnotherFailureIsNewsAtOnce) {
  RepeatedFailure f(seconds(60));
  auto t = RepeatedFailure::Clock::time_point() + seconds(1000);
  EXPECT_EQ(f.Note("busy", t), 0);
  EXPECT_EQ(f.Note("denied", t + seconds(1)), 0);
  EXPECT_EQ(f.Note("busy", t + seconds(2)), 0);
}

TEST(RepeatedFailure, AfterClearTheSameFailureIsNewsAgain) {
  RepeatedFailure f(seconds(60));
  auto t = RepeatedFailure::Clock::time_point() + seconds(1000);
  EXPECT_EQ(f.Note("closed by netd", t), 0);
  f.Clear();
  EXPECT_EQ(f.Note("closed by netd", t + seconds(1)), 0);
}

}  // namespace
}  // namespace engine
