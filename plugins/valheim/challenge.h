// Challenge numbers for valheim:status. A client must send back the number
// it was given for its address before it gets an A2S_INFO, A2S_PLAYER or
// A2S_RULES answer, so that a spoofed source address gets nothing larger
// than its request (no reflection amplification). The numbers are keyed
// hashes (SipHash-2-4 with a random key) of the client's address and a time
// window, so nothing is stored per client. Runs inside proxygw-engine.
#pragma once

#include <array>
#include <chrono>
#include <cstdint>
#include <string_view>

namespace plugins::valheim {

class ChallengeIssuer {
 public:
  // A random key from getrandom(2).
  ChallengeIssuer();
  explicit ChallengeIssuer(const std::array<std::uint8_t, 16>& key) : key_(key) {}

  // The challenge for `address` (raw 4 or 16 bytes) at `now`: never -1.
  std::uint32_t For(std::string_view address, std::chrono::steady_clock::time_point now) const;
  // True for the challenge of this window or the one before (so a number is
  // good for one to two windows).
  bool Valid(std::string_view address, std::uint32_t challenge,
             std::chrono::steady_clock::time_point now) const;

  static constexpr std::chrono::seconds kWindow{30};

 private:
  std::uint32_t At(std::string_view address, std::int64_t window) const;
  std::array<std::uint8_t, 16> key_;
};

// SipHash-2-4 of `data` under `key` (Aumasson and Bernstein's reference).
std::uint64_t SipHash24(const std::array<std::uint8_t, 16>& key, std::string_view data);

}  // namespace plugins::valheim
