#include "proxygw-netd/policy.h"

#include <gtest/gtest.h>

namespace netd {
namespace {

using ipc::netd::Mapping;
using ipc::netd::MappingKey;
using ipc::netd::Proto;

Mapping M(Proto p, const char* listen, const char* dest) {
  auto l = common::AddrPort::Parse(listen).value();
  return Mapping{MappingKey{p, l.address, l.port}, common::AddrPort::Parse(dest).value(), 60};
}

TEST(NetdPolicy, AllowsOnlyWhatItDeclares) {
  auto p = Policy::Parse("# comment\n\ntcp 0.0.0.0:80 198.18.2.2:8080\n"
                         "udp [::]:53 [2001:db8::2]:53\n");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->size(), 2u);
  EXPECT_TRUE(p->Allows(M(Proto::kTcp, "0.0.0.0:80", "198.18.2.2:8080")));
  EXPECT_TRUE(p->Allows(M(Proto::kUdp, "[::]:53", "[2001:db8::2]:53")));
  EXPECT_FALSE(p->Allows(M(Proto::kUdp, "0.0.0.0:80", "198.18.2.2:8080")));     // protocol
  EXPECT_FALSE(p->Allows(M(Proto::kTcp, "198.18.1.1:80", "198.18.2.2:8080")));  // listen
  EXPECT_FALSE(p->Allows(M(Proto::kTcp, "0.0.0.0:22", "198.18.2.2:8080")));     // port
  EXPECT_FALSE(p->Allows(M(Proto::kTcp, "0.0.0.0:80", "198.18.2.3:8080")));     // destination
  EXPECT_TRUE(p->Declares(M(Proto::kTcp, "0.0.0.0:80", "198.18.2.3:1").key));
  EXPECT_FALSE(p->Declares(M(Proto::kTcp, "0.0.0.0:22", "198.18.2.3:1").key));
}

TEST(NetdPolicy, FormatIsWhatParseReads) {
  std::vector<Mapping> ms = {M(Proto::kTcp, "198.18.1.1:80", "198.18.2.2:80"),
                             M(Proto::kUdp, "[2001:db8::1]:53", "[2001:db8::2]:5353")};
  EXPECT_EQ(Policy::Format(ms),
            "tcp 198.18.1.1:80 198.18.2.2:80\nudp [2001:db8::1]:53 [2001:db8::2]:5353\n");
  auto p = Policy::Parse(Policy::Format(ms));
  ASSERT_TRUE(p.ok());
  for (const auto& m : ms) EXPECT_TRUE(p->Allows(m));
}

TEST(NetdPolicy, ABadLineIsNamed) {
  for (auto [text, want] : std::vector<std::pair<const char*, const char*>>{
           {"tcp 0.0.0.0:80\n", "policy:1: expected \"tcp|udp LISTEN:PORT DESTINATION:PORT\""},
           {"\nsctp 0.0.0.0:80 1.2.3.4:5\n", "policy:2: protocol must be tcp or udp"},
           {"tcp 0.0.0.0:80 1.2.3.4:5 x\n", "policy:1: expected \"tcp|udp LISTEN:PORT DESTINATION:PORT\""},
           {"tcp  0.0.0.0:80 1.2.3.4:5\n", "policy:1: "},
       }) {
    auto p = Policy::Parse(text);
    ASSERT_FALSE(p.ok()) << text;
    EXPECT_EQ(p.status().message().rfind(want, 0), 0u) << p.status().message();
  }
}

}  // namespace
}  // namespace netd
