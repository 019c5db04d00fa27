// IP addresses and address:port pairs, in the text syntax of Go's netip package
// ("198.18.0.1:80", "[2001:db8::1]:80"), which the original's configs use.
// Shared by every proxygw process: the engine parses config text with it, netd
// checks and prints the binary form it receives. Pure value types, no I/O.
#pragma once

#include <array>
#include <compare>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/status.h"

namespace common {

enum class Family : std::uint8_t { kIpv4 = 4, kIpv6 = 6 };

std::string_view FamilyName(Family f);  // "IPv4" / "IPv6"

class IpAddress {
 public:
  IpAddress() = default;  // 0.0.0.0
  static IpAddress V4(std::array<std::uint8_t, 4> b);
  static IpAddress V6(const std::array<std::uint8_t, 16>& b);
  static IpAddress Unspecified(Family f);
  // The address of family `f` in the 4 or 16 bytes at `p` (network order).
  static IpAddress FromBytes(Family f, const std::uint8_t* p);

  // Parses a bare address: dotted quad ("198.18.0.1", no leading zeros) or
  // RFC 4291 IPv6 text ("2001:db8::1"). A zone ("fe80::1%eth0") is rejected
  // with a message that says so.
  static Result<IpAddress> Parse(std::string_view text);

  Family family() const { return family_; }
  bool is_v4() const { return family_ == Family::kIpv4; }
  bool is_v6() const { return family_ == Family::kIpv6; }
  // 4 bytes for IPv4, 16 for IPv6, network order.
  const std::uint8_t* data() const { return bytes_.data(); }
  std::size_t size() const { return is_v4() ? 4 : 16; }

  bool IsUnspecified() const;
  bool IsLoopback() const;
  bool IsMulticast() const;
  bool IsV4Mapped() const;  // ::ffff:a.b.c.d

  std::string ToString() const;  // inet_ntop form, RFC 5952 for IPv6

  friend auto operator<=>(const IpAddress&, const IpAddress&) = default;

 private:
  Family family_ = Family::kIpv4;
  std::array<std::uint8_t, 16> bytes_{};  // IPv4 uses the first 4
};

struct AddrPort {
  IpAddress address;
  std::uint16_t port = 0;

  // "a.b.c.d:port" or "[v6]:port"; port is decimal 0-65535 without leading
  // zeros. Port 0 parses; callers that need a real port check it.
  static Result<AddrPort> Parse(std::string_view text);

  Family family() const { return address.family(); }
  std::string ToString() const;  // same syntax as Parse accepts

  friend auto operator<=>(const AddrPort&, const AddrPort&) = default;
};

}  // namespace common
