#include "proxygw-netd/validate.h"

#include <gtest/gtest.h>

namespace netd {
namespace {

using common::AddrPort;
using ipc::netd::Mapping;
using ipc::netd::MappingKey;
using ipc::netd::Proto;

Mapping M(const char* listen, const char* dest, std::uint32_t timeout = 60) {
  auto l = *AddrPort::Parse(listen);
  return Mapping{MappingKey{Proto::kTcp, l.address, l.port}, *AddrPort::Parse(dest), timeout};
}

std::string Err(const Mapping& m) {
  auto st = ValidateMapping(m);
  EXPECT_FALSE(st.ok()) << m.ToString();
  return st.message();
}

TEST(NetdValidate, AcceptsGoodMappings) {
  EXPECT_TRUE(ValidateMapping(M("198.18.0.1:80", "198.18.2.2:8080")).ok());
  EXPECT_TRUE(ValidateMapping(M("0.0.0.0:80", "127.0.0.1:8080")).ok());
  EXPECT_TRUE(ValidateMapping(M("[::]:443", "[2001:db8::2]:443", 2073600)).ok());
}

TEST(NetdValidate, RefusesListenPortZero) {
  EXPECT_EQ(Err(M("198.18.0.1:0", "198.18.2.2:80")), "tcp 198.18.0.1:0 -> 198.18.2.2:80 (60s): "
                                                    "listen port 0");
}

TEST(NetdValidate, RefusesDestinationPortZero) {
  EXPECT_EQ(Err(M("198.18.0.1:80", "198.18.2.2:0")),
            "tcp 198.18.0.1:80 -> 198.18.2.2:0 (60s): destination port 0");
}

TEST(NetdValidate, RefusesMixedFamilies) {
  EXPECT_EQ(Err(M("198.18.0.1:80", "[2001:db8::2]:80")),
            "tcp 198.18.0.1:80 -> [2001:db8::2]:80 (60s): listen and destination addresses of "
            "different families");
}

TEST(NetdValidate, RefusesUnspecifiedMulticastAndMappedDestinations) {
  EXPECT_EQ(Err(M("198.18.0.1:80", "0.0.0.0:80")),
            "tcp 198.18.0.1:80 -> 0.0.0.0:80 (60s): unspecified destination address");
  EXPECT_EQ(Err(M("198.18.0.1:80", "239.0.0.1:80")),
            "tcp 198.18.0.1:80 -> 239.0.0.1:80 (60s): multicast destination address");
  EXPECT_EQ(Err(M("[2001:db8::1]:80", "[::ffff:198.18.2.2]:80")),
            "tcp [2001:db8::1]:80 -> [::ffff:198.18.2.2]:80 (60s): IPv4-mapped IPv6 destination "
            "address");
}

TEST(NetdValidate, RefusesMulticastAndMappedListen) {
  EXPECT_EQ(Err(M("224.0.0.1:80", "198.18.2.2:80")),
            "tcp 224.0.0.1:80 -> 198.18.2.2:80 (60s): multicast listen address");
  EXPECT_EQ(Err(M("[::ffff:198.18.0.1]:80", "[2001:db8::2]:80")),
            "tcp [::ffff:198.18.0.1]:80 -> [2001:db8::2]:80 (60s): IPv4-mapped IPv6 listen "
            "address");
}

TEST(NetdValidate, RefusesBadKeys) {
  EXPECT_EQ(ValidateKey(M("198.18.0.1:0", "198.18.2.2:80").key).message(),
            "tcp 198.18.0.1:0: listen port 0");
  EXPECT_TRUE(ValidateKey(M("[::]:53", "[2001:db8::2]:53").key).ok());
}

TEST(NetdValidate, RefusesForwardingToItself) {
  EXPECT_EQ(Err(M("198.18.0.1:80", "198.18.0.1:80")),
            "tcp 198.18.0.1:80 -> 198.18.0.1:80 (60s): destination equals the listen address");
}

// Issue 13: 30 days was allowed, but past 2,147,483 s the kernel's jiffies
// wrap at HZ=1000 and such a flow expired at once.
TEST(NetdValidate, RefusesFlowTimeoutsOutOfRange) {
  EXPECT_EQ(Err(M("198.18.0.1:80", "198.18.2.2:80", 0)),
            "tcp 198.18.0.1:80 -> 198.18.2.2:80 (0s): flow timeout must be 1-2073600 seconds");
  EXPECT_EQ(Err(M("198.18.0.1:80", "198.18.2.2:80", 2073601)),
            "tcp 198.18.0.1:80 -> 198.18.2.2:80 (2073601s): flow timeout must be 1-2073600 "
            "seconds");
  EXPECT_EQ(Err(M("198.18.0.1:80", "198.18.2.2:80", 2147484)),
            "tcp 198.18.0.1:80 -> 198.18.2.2:80 (2147484s): flow timeout must be 1-2073600 "
            "seconds");
}

TEST(NetdValidate, RefusesWildcardOverlappingSpecific) {
  std::map<MappingKey, Mapping> set;
  for (auto m : {M("198.18.0.1:80", "198.18.2.2:80"), M("0.0.0.0:80", "198.18.2.3:80")}) {
    set[m.key] = m;
  }
  EXPECT_EQ(ValidateSet(set, 10).message(),
            "tcp 198.18.0.1:80: overlaps the wildcard mapping of port 80");
  // Another family or port does not overlap.
  set.clear();
  for (auto m : {M("198.18.0.1:80", "198.18.2.2:80"), M("[::]:80", "[2001:db8::2]:80"),
                 M("0.0.0.0:81", "198.18.2.3:80")}) {
    set[m.key] = m;
  }
  EXPECT_TRUE(ValidateSet(set, 10).ok());
  EXPECT_EQ(ValidateSet(set, 2).message(), "3 mappings; the limit is 2");
}

}  // namespace
TEST(NetdValidate, PortIndexFindsTheOverlapsAChangeWouldMake) {
  auto K = [](const char* listen) { return M(listen, "198.18.2.2:80").key; };
  PortIndex idx;
  EXPECT_FALSE(idx.Overlaps({K("198.18.0.1:80"), K("198.18.0.2:80")}, {}));
  EXPECT_TRUE(idx.Overlaps({K("198.18.0.1:80"), K("0.0.0.0:80")}, {}));
  // Another family, port or protocol is another port.
  auto udp = K("0.0.0.0:80");
  udp.proto = ipc::netd::Proto::kUdp;
  EXPECT_FALSE(idx.Overlaps({K("198.18.0.1:80"), K("[::]:80"), K("0.0.0.0:81"), udp}, {}));

  idx.Add(K("198.18.0.1:80"));
  idx.Add(K("198.18.0.2:80"));
  EXPECT_TRUE(idx.Overlaps({K("0.0.0.0:80")}, {}));
  EXPECT_TRUE(idx.Overlaps({K("0.0.0.0:80")}, {K("198.18.0.1:80")}));  // one specific is left
  EXPECT_FALSE(idx.Overlaps({K("0.0.0.0:80")}, {K("198.18.0.1:80"), K("198.18.0.2:80")}));
  EXPECT_FALSE(idx.Overlaps({K("0.0.0.0:81")}, {}));

  idx.Remove(K("198.18.0.1:80"));
  idx.Remove(K("198.18.0.2:80"));
  idx.Add(K("0.0.0.0:80"));
  EXPECT_TRUE(idx.Overlaps({K("198.18.0.9:80")}, {}));
  EXPECT_FALSE(idx.Overlaps({K("198.18.0.9:80")}, {K("0.0.0.0:80")}));
  idx.Clear();
  EXPECT_FALSE(idx.Overlaps({K("198.18.0.9:80")}, {}));
}

namespace {

ipc::netd::Hold H(const char* listen, std::uint32_t hold_s,
                  std::vector<std::pair<const char*, int>> allow = {}) {
  auto l = *AddrPort::Parse(listen);
  ipc::netd::Hold h{MappingKey{Proto::kTcp, l.address, l.port}, hold_s, {}};
  for (auto [a, len] : allow) {
    h.allow.push_back({*common::IpAddress::Parse(a), static_cast<std::uint8_t>(len)});
  }
  return h;
}

std::string HoldErr(const ipc::netd::Hold& h, bool clear_ok = false) {
  auto st = ValidateHold(h, clear_ok);
  EXPECT_FALSE(st.ok());
  return st.message();
}

TEST(NetdValidateHold, AcceptsGoodHolds) {
  EXPECT_TRUE(ValidateHold(H("198.18.0.1:80", 30), false).ok());
  EXPECT_TRUE(
      ValidateHold(H("0.0.0.0:80", 300, {{"198.18.1.0", 24}, {"10.0.0.0", 8}}), false).ok());
  EXPECT_TRUE(ValidateHold(H("[::]:80", 1, {{"2001:db8::1", 128}}), false).ok());
  EXPECT_TRUE(ValidateHold(H("198.18.0.1:80", 0), /*clear_ok=*/true).ok());
}

TEST(NetdValidateHold, RefusesHoldTimesOutOfRange) {
  EXPECT_EQ(HoldErr(H("198.18.0.1:80", 0)),
            "hold of tcp 198.18.0.1:80: hold_s must be 1-300 seconds");
  EXPECT_EQ(HoldErr(H("198.18.0.1:80", 301), true),
            "hold of tcp 198.18.0.1:80: hold_s must be 1-300 seconds");
}

TEST(NetdValidateHold, RefusesBadKeys) {
  EXPECT_EQ(HoldErr(H("198.18.0.1:0", 5)), "hold of tcp 198.18.0.1:0: listen port 0");
  EXPECT_EQ(HoldErr(H("224.0.0.1:80", 5)), "hold of tcp 224.0.0.1:80: multicast listen address");
}

TEST(NetdValidateHold, RefusesPrefixesOfTheOtherFamilyTooLongOrWithHostBits) {
  EXPECT_EQ(HoldErr(H("198.18.0.1:80", 5, {{"2001:db8::", 32}})),
            "hold of tcp 198.18.0.1:80: allow 2001:db8::/32: not the family of the listen address");
  EXPECT_EQ(HoldErr(H("198.18.0.1:80", 5, {{"198.18.1.0", 33}})),
            "hold of tcp 198.18.0.1:80: allow 198.18.1.0/33: length");
  EXPECT_EQ(HoldErr(H("198.18.0.1:80", 5, {{"198.18.1.1", 24}})),
            "hold of tcp 198.18.0.1:80: allow 198.18.1.1/24: host bits set");
}

TEST(NetdValidateHold, RefusesOverlappingPrefixes) {
  EXPECT_EQ(HoldErr(H("198.18.0.1:80", 5, {{"10.0.0.0", 8}, {"10.1.0.0", 16}})),
            "hold of tcp 198.18.0.1:80: allow 10.1.0.0/16 overlaps 10.0.0.0/8");
  EXPECT_EQ(HoldErr(H("[::]:80", 5, {{"2001:db8::", 32}, {"::", 0}})),
            "hold of tcp [::]:80: allow ::/0 overlaps 2001:db8::/32");
}

}  // namespace
}  // namespace netd
