// Backoff: the waits double from the first up to the ceiling, and start over
// after a Reset.
#include "proxygw-engine/backoff.h"

#include <gtest/gtest.h>

namespace engine {
namespace {

using std::chrono::milliseconds;

TEST(Backoff, DoublesFromTheFirstWaitUpToTheCeiling) {
  Backoff b(milliseconds(100), milliseconds(500));
  EXPECT_EQ(b.Next(), milliseconds(100));
  EXPECT_EQ(b.Next(), milliseconds(200));
  EXPECT_EQ(b.Next(), milliseconds(400));
  EXPECT_EQ(b.Next(), milliseconds(500));
  EXPECT_EQ(b.Next(), milliseconds(500));
  EXPECT_EQ(b.failures(), 5);
}

TEST(Backoff, ResetStartsOverAtTheFirstWait) {
  Backoff b(milliseconds(100), milliseconds(5000));
  b.Next();
  b.Next();
  b.Reset();
  EXPECT_EQ(b.failures(), 0);
  EXPECT_EQ(b.Next(), milliseconds(100));
}

TEST(Backoff, AFirstWaitEqualToTheCeilingStaysThere) {
  Backoff b(milliseconds(50), milliseconds(50));
  EXPECT_EQ(b.Next(), milliseconds(50));
  EXPECT_EQ(b.Next(), milliseconds(50));
}

}  // namespace
}  // namespace engine
