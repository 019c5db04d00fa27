// Challenge numbers: SipHash-2-4 against the reference vectors, and the
// windows a number stays good for.
#include "plugins/valheim/challenge.h"

#include <gtest/gtest.h>

#include <string>

namespace plugins::valheim {
namespace {

using namespace std::chrono_literals;

std::array<std::uint8_t, 16> Key() {
  std::array<std::uint8_t, 16> k{};
  for (int i = 0; i < 16; ++i) k[i] = static_cast<std::uint8_t>(i);
  return k;
}

TEST(SipHash, MatchesTheReferenceVectors) {
  std::string msg;
  EXPECT_EQ(SipHash24(Key(), msg), 0x726fdb47dd0e0e31ull);
  for (int i = 0; i < 15; ++i) msg.push_back(static_cast<char>(i));
  EXPECT_EQ(SipHash24(Key(), msg), 0xa129ca6149be45e5ull);
  msg.push_back(15);
  EXPECT_EQ(SipHash24(Key(), msg.substr(0, 8)), 0x93f5f5799a932462ull);
}

TEST(Challenge, GoodForItsWindowAndTheNext) {
  ChallengeIssuer c(Key());
  const std::chrono::steady_clock::time_point t0{600s};
  const std::string a("\xc6\x12\x01\x02", 4);
  const std::uint32_t n = c.For(a, t0);
  EXPECT_NE(n, 0xFFFFFFFFu);
  EXPECT_TRUE(c.Valid(a, n, t0));
  EXPECT_TRUE(c.Valid(a, n, t0 + 29s));
  EXPECT_TRUE(c.Valid(a, n, t0 + 59s));
  EXPECT_FALSE(c.Valid(a, n, t0 + 60s));
  EXPECT_FALSE(c.Valid(std::string("\xc6\x12\x01\x03", 4), n, t0));
  EXPECT_FALSE(c.Valid(a, n + 1, t0));
}

TEST(Challenge, KeysDiffer) {
  ChallengeIssuer a, b;
  const std::chrono::steady_clock::time_point t0{600s};
  const std::string addr(16, '\x20');
  EXPECT_NE(a.For(addr, t0), b.For(addr, t0));  // 1 in 2^32 to fail
}

}  // namespace
}  // namespace plugins::valheim
