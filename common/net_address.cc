#include "common/net_address.h"

#include <arpa/inet.h>

#include <charconv>
#include <cstring>

namespace common {
namespace {

std::string Quote(std::string_view s) {
  std::string out = "\"";
  out.append(s);
  out += '"';
  return out;
}

}  // namespace

std::string_view FamilyName(Family f) { return f == Family::kIpv4 ? "IPv4" : "IPv6"; }

IpAddress IpAddress::V4(std::array<std::uint8_t, 4> b) {
  IpAddress a;
  a.family_ = Family::kIpv4;
  std::memcpy(a.bytes_.data(), b.data(), 4);
  return a;
}

IpAddress IpAddress::V6(const std::array<std::uint8_t, 16>& b) {
  IpAddress a;
  a.family_ = Family::kIpv6;
  a.bytes_ = b;
  return a;
}

IpAddress IpAddress::FromBytes(Family f, const std::uint8_t* p) {
  IpAddress a;
  a.family_ = f;
  std::memcpy(a.bytes_.data(), p, f == Family::kIpv4 ? 4 : 16);
  return a;
}

IpAddress IpAddress::Unspecified(Family f) {
  IpAddress a;
  a.family_ = f;
  return a;
}

Result<IpAddress> IpAddress::Parse(std::string_view text) {
  if (text.empty()) return Status::InvalidArgument("empty IP address");
  if (text.find('%') != std::string_view::npos) {
    return Status::InvalidArgument("address " + Quote(text) +
                                   " has a zone; zone-qualified addresses are not supported");
  }
  if (text.size() > INET6_ADDRSTRLEN) {
    return Status::InvalidArgument("invalid IP address " + Quote(text.substr(0, 48)) + "...");
  }
  std::string s(text);
  IpAddress a;
  if (s.find(':') == std::string::npos) {
    // glibc's inet_pton accepts exactly a dotted quad of decimal octets and
    // rejects leading zeros, as Go's netip does.
    if (inet_pton(AF_INET, s.c_str(), a.bytes_.data()) != 1) {
      return Status::InvalidArgument("invalid IPv4 address " + Quote(text));
    }
    a.family_ = Family::kIpv4;
    return a;
  }
  if (inet_pton(AF_INET6, s.c_str(), a.bytes_.data()) != 1) {
    return Status::InvalidArgument("invalid IPv6 address " + Quote(text));
  }
  a.family_ = Family::kIpv6;
  return a;
}

bool IpAddress::IsUnspecified() const {
  for (std::size_t i = 0; i < size(); ++i) {
    if (bytes_[i] != 0) return false;
  }
  return true;
}

bool IpAddress::IsLoopback() const {
  if (is_v4()) return bytes_[0] == 127;
  static constexpr std::array<std::uint8_t, 16> kLoop{0, 0, 0, 0, 0, 0, 0, 0,
                                                      0, 0, 0, 0, 0, 0, 0, 1};
  return bytes_ == kLoop;
}

bool IpAddress::IsMulticast() const {
  if (is_v4()) return (bytes_[0] & 0xf0) == 0xe0;
  return bytes_[0] == 0xff;
}

bool IpAddress::IsV4Mapped() const {
  if (!is_v6()) return false;
  for (int i = 0; i < 10; ++i) {
    if (bytes_[i] != 0) return false;
  }
  return bytes_[10] == 0xff && bytes_[11] == 0xff;
}

std::string IpAddress::ToString() const {
  char buf[INET6_ADDRSTRLEN] = {};
  inet_ntop(is_v4() ? AF_INET : AF_INET6, bytes_.data(), buf, sizeof buf);
  return buf;
}

Result<AddrPort> AddrPort::Parse(std::string_view text) {
  const std::string expected =
      "expected \"ip:port\" or \"[ipv6]:port\", got " + Quote(text.substr(0, 64));
  std::string_view host;
  std::string_view port;
  if (!text.empty() && text.front() == '[') {
    auto close = text.find(']');
    if (close == std::string_view::npos || close + 1 >= text.size() || text[close + 1] != ':') {
      return Status::InvalidArgument(expected);
    }
    host = text.substr(1, close - 1);
    port = text.substr(close + 2);
    if (host.find(':') == std::string_view::npos && host.find('%') == std::string_view::npos) {
      return Status::InvalidArgument("brackets are for IPv6 addresses; write " +
                                     Quote(std::string(host) + ":" + std::string(port)));
    }
  } else {
    auto colon = text.rfind(':');
    if (colon == std::string_view::npos) return Status::InvalidArgument(expected);
    host = text.substr(0, colon);
    port = text.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) {
      return Status::InvalidArgument("IPv6 address needs brackets: expected \"[ipv6]:port\", got " +
                                     Quote(text.substr(0, 64)));
    }
  }
  if (port.empty()) return Status::InvalidArgument("missing port in " + Quote(text));
  unsigned value = 0;
  auto [end, ec] = std::from_chars(port.data(), port.data() + port.size(), value);
  if (ec != std::errc() || end != port.data() + port.size() || value > 65535 ||
      (port.size() > 1 && port[0] == '0')) {
    return Status::InvalidArgument("invalid port " + Quote(port) + " in " + Quote(text) +
                                   " (expected 1-65535)");
  }
  auto ip = IpAddress::Parse(host);
  if (!ip.ok()) return ip.status();
  return AddrPort{*ip, static_cast<std::uint16_t>(value)};
}

std::string AddrPort::ToString() const {
  std::string s = address.is_v6() ? "[" + address.ToString() + "]" : address.ToString();
  s += ':';
  s += std::to_string(port);
  return s;
}

}  // namespace common
