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
  auto p = Policy::Parse(
      "# comment\n\ntcp 0.0.0.0:80 198.18.2.2:8080 mark 2\n"
      "udp [::]:53 [2001:db8::2]:53 mark 1\n");
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

// One mark per listen key: its destinations share it, and what was enabled
// before does not matter: the mark is the file's.
TEST(NetdPolicy, AListenKeyHasTheMarkOfItsLines) {
  auto p = Policy::Parse(
      "tcp 0.0.0.0:80 198.18.2.2:8080 mark 7\n"
      "tcp 0.0.0.0:80 198.18.2.3:8080 mark 7\n"
      "udp 0.0.0.0:80 198.18.2.2:8080 mark 3\n");
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->size(), 3u);
  auto tcp80 = M(Proto::kTcp, "0.0.0.0:80", "198.18.2.3:8080").key;
  EXPECT_EQ(p->MarkId(tcp80), 7u);
  EXPECT_EQ(p->TakeMarkId(M(Proto::kUdp, "0.0.0.0:80", "1.2.3.4:5").key, 65535), 3u);
  EXPECT_EQ(p->MarkId(M(Proto::kTcp, "0.0.0.0:81", "198.18.2.2:8080").key), 0u);
  EXPECT_EQ(p->TakeMarkId(M(Proto::kTcp, "0.0.0.0:81", "198.18.2.2:8080").key, 65535), 0u)
      << "a policy gives no mark to a key it does not declare";
  p->Adopt(M(Proto::kTcp, "0.0.0.0:81", "1.2.3.4:5").key, 9);
  EXPECT_EQ(p->MarkId(M(Proto::kTcp, "0.0.0.0:81", "1.2.3.4:5").key), 0u);
  EXPECT_TRUE(p->FitsIn(7).ok());
  EXPECT_EQ(p->FitsIn(6).message(),
            "mark 7 of tcp 0.0.0.0:80 does not fit the ct mark mask, whose ids are 1-6");
}

// --no-policy: a key gets the lowest id no key has had, when first enabled,
// and keeps it; adopted mappings keep theirs.
TEST(NetdPolicy, AllowingAnyMarksKeysAsTheyComeAndKeepsTheirMarks) {
  Policy p = Policy::AllowingAny();
  auto a = M(Proto::kTcp, "0.0.0.0:80", "1.2.3.4:5").key,
       b = M(Proto::kTcp, "0.0.0.0:81", "1.2.3.4:5").key,
       c = M(Proto::kUdp, "0.0.0.0:81", "1.2.3.4:5").key,
       d = M(Proto::kUdp, "0.0.0.0:82", "1.2.3.4:5").key;
  EXPECT_TRUE(p.Allows(M(Proto::kTcp, "0.0.0.0:22", "1.2.3.4:5")));
  EXPECT_TRUE(p.Declares(a));
  p.Adopt(b, 1);
  p.Adopt(c, 1);  // the id is taken: nothing
  EXPECT_EQ(p.MarkId(a), 0u);
  EXPECT_EQ(p.TakeMarkId(a, 3), 2u);
  EXPECT_EQ(p.TakeMarkId(c, 3), 3u);
  EXPECT_EQ(p.TakeMarkId(a, 3), 2u);
  EXPECT_EQ(p.TakeMarkId(b, 3), 1u);
  EXPECT_EQ(p.TakeMarkId(d, 3), 0u) << "all 3 taken";
}

TEST(NetdPolicy, ABadLineIsNamed) {
  constexpr const char* kFormat =
      "policy:1: expected \"tcp|udp LISTEN:PORT DESTINATION:PORT mark ID\"";
  for (auto [text, want] : std::vector<std::pair<const char*, std::string>>{
           {"tcp 0.0.0.0:80 1.2.3.4:5\n", kFormat},  // no mark: a file from before marks
           {"tcp 0.0.0.0:80\n", kFormat},
           {"\nsctp 0.0.0.0:80 1.2.3.4:5 mark 1\n", "policy:2: protocol must be tcp or udp"},
           {"tcp 0.0.0.0:80 1.2.3.4:5 mark 1 x\n", kFormat},
           {"tcp 0.0.0.0:80 1.2.3.4:5 mork 1\n", kFormat},
           {"tcp  0.0.0.0:80 1.2.3.4:5 mark 1\n", "policy:1: "},
           {"tcp 0.0.0.0:80 1.2.3.4:5 mark 0\n",
            "policy:1: mark: expected an id 1-4294967295, got \"0\""},
           {"tcp 0.0.0.0:80 1.2.3.4:5 mark 4294967296\n", "policy:1: mark: expected an id"},
           {"tcp 0.0.0.0:80 1.2.3.4:5 mark 07\n", "policy:1: mark: expected an id"},
           {"tcp 0.0.0.0:80 1.2.3.4:5 mark x\n", "policy:1: mark: expected an id"},
           {"tcp 0.0.0.0:80 1.2.3.4:5 mark 1\ntcp 0.0.0.0:80 1.2.3.5:5 mark 2\n",
            "policy:2: tcp 0.0.0.0:80 has mark 1 on an earlier line: a listen key has one mark"},
           {"tcp 0.0.0.0:80 1.2.3.4:5 mark 1\nudp 0.0.0.0:80 1.2.3.4:5 mark 1\n",
            "policy:2: mark 1 is tcp 0.0.0.0:80's already: each listen key has its own"},
       }) {
    auto p = Policy::Parse(text);
    ASSERT_FALSE(p.ok()) << text;
    EXPECT_EQ(p.status().message().rfind(want, 0), 0u) << p.status().message();
  }
}

}  // namespace
}  // namespace netd
