#include "proxygw-engine/config/duration.h"

#include <gtest/gtest.h>

namespace config {
namespace {

using std::chrono::nanoseconds;

std::int64_t Ns(std::string_view s) {
  auto r = ParseGoDuration(s);
  EXPECT_TRUE(r.ok()) << s << ": " << r.status().message();
  return r.ok() ? r->count() : -1;
}

std::string Err(std::string_view s) {
  auto r = ParseGoDuration(s);
  EXPECT_FALSE(r.ok()) << s;
  return r.ok() ? "" : r.status().message();
}

TEST(GoDuration, ParsesEveryUnit) {
  EXPECT_EQ(Ns("1ns"), 1);
  EXPECT_EQ(Ns("1us"), 1000);
  EXPECT_EQ(Ns("1\xC2\xB5s"), 1000);
  EXPECT_EQ(Ns("1\xCE\xBCs"), 1000);
  EXPECT_EQ(Ns("1ms"), 1000000);
  EXPECT_EQ(Ns("90s"), 90'000'000'000);
  EXPECT_EQ(Ns("5m"), 300'000'000'000);
  EXPECT_EQ(Ns("2h"), 7'200'000'000'000);
}

TEST(GoDuration, ParsesCompoundsFractionsAndSigns) {
  EXPECT_EQ(Ns("1h30m"), 5'400'000'000'000);
  EXPECT_EQ(Ns("1.5h"), 5'400'000'000'000);
  EXPECT_EQ(Ns(".5s"), 500'000'000);
  EXPECT_EQ(Ns("1.s"), 1'000'000'000);
  EXPECT_EQ(Ns("1m0.5s"), 60'500'000'000);
  EXPECT_EQ(Ns("0"), 0);
  EXPECT_EQ(Ns("+0"), 0);
  EXPECT_EQ(Ns("-5s"), -5'000'000'000);
  EXPECT_EQ(Ns("+5s"), 5'000'000'000);
}

TEST(GoDuration, RejectsWithMessages) {
  EXPECT_EQ(Err(""), "invalid duration \"\": empty");
  EXPECT_EQ(Err("-"), "invalid duration \"-\": no number");
  EXPECT_EQ(Err("300"),
            "invalid duration \"300\": missing unit (use ns, us, ms, s, m or h, e.g. \"300s\")");
  EXPECT_EQ(Err("5d"), "invalid duration \"5d\": unknown unit \"d\" (use ns, us, ms, s, m or h)");
  EXPECT_EQ(Err("s"), "invalid duration \"s\": expected a number");
  EXPECT_EQ(Err(".s"), "invalid duration \".s\": expected a number");
  EXPECT_EQ(Err("1h30"),
            "invalid duration \"1h30\": missing unit (use ns, us, ms, s, m or h, e.g. \"30s\")");
  EXPECT_EQ(Err("1 s"), "invalid duration \"1 s\": unknown unit \" s\" (use ns, us, ms, s, m or h)");
}

TEST(GoDuration, RejectsOverflowInsteadOfWrapping) {
  EXPECT_EQ(Err("2562048h"), "invalid duration \"2562048h\": out of range");
  EXPECT_EQ(Err("99999999999999999999999s"),
            "invalid duration \"99999999999999999999999s\": out of range");
  EXPECT_EQ(Err("2562047h2562047h"), "invalid duration \"2562047h2562047h\": out of range");
  EXPECT_EQ(Ns("2562047h"), 2562047LL * 3600 * 1'000'000'000);
}

TEST(FormatSeconds, OmitsZeroUnitsAndParsesBack) {
  EXPECT_EQ(FormatSeconds(0), "0s");
  EXPECT_EQ(FormatSeconds(90), "1m30s");
  EXPECT_EQ(FormatSeconds(3600), "1h");
  EXPECT_EQ(FormatSeconds(5400), "1h30m");
  EXPECT_EQ(FormatSeconds(3601), "1h1s");
  for (std::uint64_t s : {1ULL, 59ULL, 61ULL, 86399ULL, 2592000ULL}) {
    EXPECT_EQ(Ns(FormatSeconds(s)), static_cast<std::int64_t>(s) * 1'000'000'000);
  }
}

}  // namespace
}  // namespace config
