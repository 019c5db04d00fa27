// Stateless challenge numbers for A2S (see the header).
#include "plugins/valheim/challenge.h"

#include <sys/random.h>

#include <cstring>
#include <string>

namespace plugins::valheim {
namespace {

std::uint64_t Rotl(std::uint64_t x, int b) { return (x << b) | (x >> (64 - b)); }

std::uint64_t Load64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 7; i >= 0; --i) v = (v << 8) | p[i];
  return v;
}

struct State {
  std::uint64_t v0, v1, v2, v3;
  void Round() {
    v0 += v1;
    v1 = Rotl(v1, 13);
    v1 ^= v0;
    v0 = Rotl(v0, 32);
    v2 += v3;
    v3 = Rotl(v3, 16);
    v3 ^= v2;
    v0 += v3;
    v3 = Rotl(v3, 21);
    v3 ^= v0;
    v2 += v1;
    v1 = Rotl(v1, 17);
    v1 ^= v2;
    v2 = Rotl(v2, 32);
  }
};

}  // namespace

std::uint64_t SipHash24(const std::array<std::uint8_t, 16>& key, std::string_view data) {
  const std::uint64_t k0 = Load64(key.data());
  const std::uint64_t k1 = Load64(key.data() + 8);
  State s{0x736f6d6570736575ull ^ k0, 0x646f72616e646f6dull ^ k1, 0x6c7967656e657261ull ^ k0,
          0x7465646279746573ull ^ k1};
  const auto* p = reinterpret_cast<const std::uint8_t*>(data.data());
  const std::size_t n = data.size();
  std::size_t i = 0;
  for (; i + 8 <= n; i += 8) {
    std::uint64_t m = Load64(p + i);
    s.v3 ^= m;
    s.Round();
    s.Round();
    s.v0 ^= m;
  }
  std::uint64_t last = static_cast<std::uint64_t>(n & 0xff) << 56;
  for (std::size_t k = 0; i + k < n; ++k) last |= static_cast<std::uint64_t>(p[i + k]) << (8 * k);
  s.v3 ^= last;
  s.Round();
  s.Round();
  s.v0 ^= last;
  s.v2 ^= 0xff;
  for (int r = 0; r < 4; ++r) s.Round();
  return s.v0 ^ s.v1 ^ s.v2 ^ s.v3;
}

ChallengeIssuer::ChallengeIssuer() {
  // getrandom on a booted system does not block and returns the 16 bytes at
  // once; should it fail, an all-zero key still makes numbers, only ones
  // that can be guessed.
  key_.fill(0);
  std::size_t got = 0;
  while (got < key_.size()) {
    ssize_t n = ::getrandom(key_.data() + got, key_.size() - got, 0);
    if (n <= 0) break;
    got += static_cast<std::size_t>(n);
  }
}

std::uint32_t ChallengeIssuer::At(std::string_view address, std::int64_t window) const {
  std::string data(address);
  for (int i = 0; i < 8; ++i) data.push_back(static_cast<char>((window >> (8 * i)) & 0xff));
  auto c = static_cast<std::uint32_t>(SipHash24(key_, data));
  return c == 0xFFFFFFFF ? 0 : c;  // -1 means "give me one"
}

std::uint32_t ChallengeIssuer::For(std::string_view address,
                                   std::chrono::steady_clock::time_point now) const {
  const std::int64_t window =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() /
      kWindow.count();
  return At(address, window);
}

bool ChallengeIssuer::Valid(std::string_view address, std::uint32_t challenge,
                            std::chrono::steady_clock::time_point now) const {
  const std::int64_t window =
      std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() /
      kWindow.count();
  return challenge == At(address, window) || challenge == At(address, window - 1);
}

}  // namespace plugins::valheim
