#include "common/net_address.h"

#include <gtest/gtest.h>

namespace common {
namespace {

std::string Err(std::string_view text) {
  auto r = AddrPort::Parse(text);
  EXPECT_FALSE(r.ok()) << text;
  return r.ok() ? "" : r.status().message();
}

TEST(AddrPort, ParsesIpv4AndRoundTrips) {
  auto r = AddrPort::Parse("198.18.0.1:8080");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->address.is_v4());
  EXPECT_EQ(r->port, 8080);
  EXPECT_EQ(r->ToString(), "198.18.0.1:8080");
}

TEST(AddrPort, ParsesIpv6InBracketsAndCompresses) {
  auto r = AddrPort::Parse("[2001:0db8:0:0::1]:443");
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(r->address.is_v6());
  EXPECT_EQ(r->ToString(), "[2001:db8::1]:443");
}

TEST(AddrPort, WildcardsAreUnspecified) {
  EXPECT_TRUE(AddrPort::Parse("0.0.0.0:80")->address.IsUnspecified());
  EXPECT_TRUE(AddrPort::Parse("[::]:80")->address.IsUnspecified());
  EXPECT_FALSE(AddrPort::Parse("198.18.0.1:80")->address.IsUnspecified());
}

TEST(AddrPort, PortZeroParsesForTheCallerToRefuse) {
  auto r = AddrPort::Parse("198.18.0.1:0");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->port, 0);
}

TEST(AddrPort, RejectsWithMessages) {
  EXPECT_EQ(Err("8080"), "expected \"ip:port\" or \"[ipv6]:port\", got \"8080\"");
  EXPECT_EQ(Err(""), "expected \"ip:port\" or \"[ipv6]:port\", got \"\"");
  EXPECT_EQ(Err("198.18.0.1:"), "missing port in \"198.18.0.1:\"");
  EXPECT_EQ(Err("198.18.0.1:65536"),
            "invalid port \"65536\" in \"198.18.0.1:65536\" (expected 1-65535)");
  EXPECT_EQ(Err("198.18.0.1:080"), "invalid port \"080\" in \"198.18.0.1:080\" (expected 1-65535)");
  EXPECT_EQ(Err("198.18.0.1:-1"), "invalid port \"-1\" in \"198.18.0.1:-1\" (expected 1-65535)");
  EXPECT_EQ(Err("198.18.0.1:8o"), "invalid port \"8o\" in \"198.18.0.1:8o\" (expected 1-65535)");
  EXPECT_EQ(Err("198.18.1:80"), "invalid IPv4 address \"198.18.1\"");
  EXPECT_EQ(Err("198.18.0.01:80"), "invalid IPv4 address \"198.18.0.01\"");
  EXPECT_EQ(Err("example.com:80"), "invalid IPv4 address \"example.com\"");
  EXPECT_EQ(Err("[2001:db8::g]:80"), "invalid IPv6 address \"2001:db8::g\"");
  EXPECT_EQ(Err("2001:db8::1:80"),
            "IPv6 address needs brackets: expected \"[ipv6]:port\", got \"2001:db8::1:80\"");
  EXPECT_EQ(Err("[198.18.0.1]:80"), "brackets are for IPv6 addresses; write \"198.18.0.1:80\"");
  EXPECT_EQ(Err("[::1]80"), "expected \"ip:port\" or \"[ipv6]:port\", got \"[::1]80\"");
  EXPECT_EQ(Err("[fe80::1%eth0]:80"),
            "address \"fe80::1%eth0\" has a zone; zone-qualified addresses are not supported");
}

TEST(IpAddress, Classifies) {
  EXPECT_TRUE(IpAddress::Parse("127.0.0.2")->IsLoopback());
  EXPECT_TRUE(IpAddress::Parse("::1")->IsLoopback());
  EXPECT_FALSE(IpAddress::Parse("::2")->IsLoopback());
  EXPECT_TRUE(IpAddress::Parse("224.0.0.1")->IsMulticast());
  EXPECT_TRUE(IpAddress::Parse("ff02::1")->IsMulticast());
  EXPECT_TRUE(IpAddress::Parse("::ffff:198.18.0.1")->IsV4Mapped());
  EXPECT_FALSE(IpAddress::Parse("2001:db8::1")->IsV4Mapped());
}

TEST(IpAddress, OrdersByFamilyThenBytes) {
  auto a = *IpAddress::Parse("198.18.0.1");
  auto b = *IpAddress::Parse("198.18.0.2");
  auto c = *IpAddress::Parse("2001:db8::1");
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
  EXPECT_EQ(a, *IpAddress::Parse("198.18.0.1"));
}

}  // namespace
}  // namespace common
