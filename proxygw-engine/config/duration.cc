#include "proxygw-engine/config/duration.h"

#include <cstdint>
#include <limits>
#include <utility>

namespace config {
namespace {

constexpr std::uint64_t kMaxNanos = static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max());

std::pair<std::string_view, std::uint64_t> kUnits[] = {
    {"ns", 1ULL},
    {"us", 1000ULL},
    {"\xC2\xB5s", 1000ULL},  // U+00B5 micro sign
    {"\xCE\xBCs", 1000ULL},  // U+03BC Greek mu
    {"ms", 1000000ULL},
    {"s", 1000000000ULL},
    {"m", 60ULL * 1000000000ULL},
    {"h", 3600ULL * 1000000000ULL},
};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

common::Status Invalid(std::string_view text, std::string_view why) {
  std::string msg = "invalid duration \"";
  msg.append(text.substr(0, 64));
  msg += "\": ";
  msg += why;
  return common::Status::InvalidArgument(std::move(msg));
}

}  // namespace

common::Result<std::chrono::nanoseconds> ParseGoDuration(std::string_view text) {
  std::string_view s = text;
  if (s.empty()) return Invalid(text, "empty");
  bool negative = false;
  if (s.front() == '-' || s.front() == '+') {
    negative = s.front() == '-';
    s.remove_prefix(1);
  }
  if (s == "0") return std::chrono::nanoseconds(0);
  if (s.empty()) return Invalid(text, "no number");
  std::uint64_t total = 0;
  while (!s.empty()) {
    // Integer part, optional fraction, then a unit; as Go, at least one digit
    // on either side of the point.
    std::uint64_t whole = 0;
    bool overflow = false;
    std::size_t i = 0;
    while (i < s.size() && IsDigit(s[i])) {
      if (whole > (kMaxNanos - 9) / 10) overflow = true;
      whole = whole * 10 + static_cast<std::uint64_t>(s[i] - '0');
      ++i;
    }
    bool had_int = i > 0;
    std::string_view frac;
    if (i < s.size() && s[i] == '.') {
      std::size_t start = ++i;
      while (i < s.size() && IsDigit(s[i])) ++i;
      frac = s.substr(start, i - start);
    }
    if (!had_int && frac.empty()) return Invalid(text, "expected a number");
    if (overflow) return Invalid(text, "out of range");
    std::size_t unit_start = i;
    while (i < s.size() && !IsDigit(s[i]) && s[i] != '.') ++i;
    std::string_view unit = s.substr(unit_start, i - unit_start);
    if (unit.empty()) {
      return Invalid(text, "missing unit (use ns, us, ms, s, m or h, e.g. \"" +
                               std::string(s.substr(0, unit_start)) + "s\")");
    }
    std::uint64_t scale = 0;
    for (const auto& [name, value] : kUnits) {
      if (unit == name) scale = value;
    }
    if (scale == 0) {
      return Invalid(text, "unknown unit \"" + std::string(unit) +
                               "\" (use ns, us, ms, s, m or h)");
    }
    if (whole > kMaxNanos / scale) return Invalid(text, "out of range");
    std::uint64_t value = whole * scale;
    // Fraction: add digit by digit, as Go does, ignoring digits past ns precision.
    std::uint64_t place = scale;
    for (char c : frac) {
      place /= 10;
      if (place == 0) break;
      value += static_cast<std::uint64_t>(c - '0') * place;
    }
    if (value > kMaxNanos - total) return Invalid(text, "out of range");
    total += value;
    s.remove_prefix(i);
  }
  auto n = static_cast<std::int64_t>(total);
  return std::chrono::nanoseconds(negative ? -n : n);
}

std::string FormatSeconds(std::uint64_t seconds) {
  if (seconds == 0) return "0s";
  std::string out;
  std::uint64_t h = seconds / 3600, m = (seconds % 3600) / 60, s = seconds % 60;
  if (h > 0) out += std::to_string(h) + "h";
  if (m > 0) out += std::to_string(m) + "m";
  if (s > 0) out += std::to_string(s) + "s";
  return out;
}

}  // namespace config
