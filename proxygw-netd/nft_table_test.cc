// NftTable against the real kernel, inside the test process's own network
// namespace (tests/support/netns_test_main.cc). Each test uses its own table
// name, so that tests do not see each other's tables.
#include "proxygw-netd/nft_table.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <set>
#include <string>

#include "proxygw-netd/policy.h"

namespace netd {
namespace {

using common::AddrPort;
using ipc::netd::Proto;

Mapping M(const char* listen, const char* dest, std::uint32_t timeout = 60,
          Proto p = Proto::kTcp) {
  auto l = *AddrPort::Parse(listen);
  return Mapping{MappingKey{p, l.address, l.port}, *AddrPort::Parse(dest), timeout};
}

// Runs a shell command in this (the test's) network namespace; its stdout.
std::string Sh(const std::string& cmd) {
  std::string out;
  FILE* p = popen(("{ " + cmd + "; } 2>&1").c_str(), "r");
  if (p == nullptr) return out;
  char buf[4096];
  while (std::size_t n = std::fread(buf, 1, sizeof buf, p)) out.append(buf, n);
  pclose(p);
  return out;
}

std::string TableName() {
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  std::string n = std::string("t_") + info->name();
  for (char& c : n) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return n;
}

NftTable::Options Opts(std::uint32_t max = 100) {
  static std::string name;
  name = TableName();
  NftTable::Options o;
  o.table_name = name.c_str();
  o.max_mappings = max;
  return o;
}

std::unique_ptr<NftTable> OpenOk(const NftTable::Options& o) {
  auto t = NftTable::Open(o);
  EXPECT_TRUE(t.ok()) << t.status().message();
  return t.ok() ? std::move(t).value() : nullptr;
}

// `ms` with the marks netd's policy would give them: here, as under
// --no-policy, each key's mark id in the order this test first used it.
std::vector<InstalledMapping> Marked(const NftTable& t, const std::vector<Mapping>& ms) {
  static std::map<std::string, Policy> per_test;
  Policy& policy = per_test.try_emplace(TableName(), Policy::AllowingAny()).first->second;
  std::vector<InstalledMapping> out;
  for (const auto& m : ms) {
    std::uint32_t id = policy.TakeMarkId(m.key, NftTable::MarkCapacity(t.mark_mask()));
    out.push_back({m, NftTable::MarkFor(id, t.mark_mask())});
  }
  return out;
}

common::Result<NftTable::Outcome> Sync(NftTable& t, const std::vector<Mapping>& ms,
                                       const std::vector<Hold>& holds = {}) {
  return t.Sync(Marked(t, ms), holds);
}

common::Result<NftTable::Outcome> Change(NftTable& t, const std::vector<Mapping>& on,
                                         const std::vector<MappingKey>& off) {
  return t.Change(Marked(t, on), off);
}

// The mark of `key`'s installed mapping; 0 if it is not installed.
std::uint32_t MarkOf(const NftTable& t, const MappingKey& key) {
  auto it = t.installed().find(key);
  return it == t.installed().end() ? 0 : it->second.mark;
}

TEST(NftTable, CreatesTheLayoutWithOwnerAndPersistFlags) {
  auto t = OpenOk(Opts());
  ASSERT_NE(t, nullptr);
  EXPECT_STREQ(t->how_opened(), "created");
  EXPECT_TRUE(t->persistent()) << "kernel 6.9+ has owner+persist";
  std::string listing = Sh("nft list table inet " + TableName());
  EXPECT_NE(listing.find("flags owner"), std::string::npos) << listing;
  EXPECT_NE(listing.find("comment \"proxygw-netd layout 5, ct mark mask 0xffff0000\""),
            std::string::npos);
  for (const char* s : {"map dnat4",
                        "map dnat6",
                        "map wdnat4",
                        "map wdnat6",
                        "map mark4",
                        "map wmark6",
                        "map tmo4",
                        "map wtmo6",
                        "set hold4",
                        "set whold6",
                        "chain hold_pre",
                        "chain hold_out",
                        "type filter hook prerouting priority -190",
                        "chain mark_pre",
                        "chain mark_out",
                        "chain dnat_pre",
                        "chain dnat_out",
                        "type nat hook prerouting priority dstnat - 10",
                        "type nat hook output priority -100",
                        "ct state ! new accept",
                        "ct mark set ct mark & 0x0000ffff jump markbits4",
                        "chain wmarkbits6",
                        "ct mark set ct mark | 0x80000000",
                        "fib daddr type local ip daddr != 127.0.0.0/8 dnat ip to meta l4proto . "
                        "th dport map @wdnat4"}) {
    EXPECT_NE(listing.find(s), std::string::npos) << "missing: " << s << "\n" << listing;
  }
}

// Issue 12: a key's hold elements are in its hold set only while its
// mapping is off, and move in the same transactions as the mapping.
TEST(NftTable, HoldElementsLeaveWhenEnabledAndComeBackWhenDisabled) {
  auto t = OpenOk(Opts());
  ASSERT_NE(t, nullptr);
  auto m = M("198.18.0.1:80", "198.18.2.2:8080");
  auto set = [&] { return Sh("nft list set inet " + TableName() + " hold4"); };
  Hold h{m.key, 30, {{*common::IpAddress::Parse("198.18.1.0"), 24}}};
  ASSERT_TRUE(t->SetHolds({h}).ok());
  EXPECT_NE(set().find("tcp . 198.18.0.1 . 80 . 198.18.1.0/24"), std::string::npos) << set();
  ASSERT_TRUE(Change(*t, {m}, {}).ok());
  EXPECT_EQ(set().find("198.18.1.0/24"), std::string::npos) << set();
  EXPECT_EQ(t->holds().count(m.key), 1u);
  ASSERT_TRUE(Change(*t, {}, {m.key}).ok());
  EXPECT_NE(set().find("tcp . 198.18.0.1 . 80 . 198.18.1.0/24"), std::string::npos) << set();
  // A full sync without it clears it; a cleared hold is not an error twice.
  ASSERT_TRUE(Sync(*t, {}, {}).ok());
  EXPECT_EQ(set().find("198.18.1.0/24"), std::string::npos) << set();
  EXPECT_TRUE(t->holds().empty());
  EXPECT_TRUE(t->SetHolds({Hold{m.key, 0, {}}}).ok());
}

TEST(NftTable, OtherProcessesCannotChangeTheOwnedTable) {
  auto t = OpenOk(Opts());
  ASSERT_NE(t, nullptr);
  std::string out = Sh("nft add element inet " + TableName() +
                       " dnat4 '{ tcp . 198.18.0.1 . 80 : 198.18.0.2 . 80 }'; echo rc=$?");
  EXPECT_NE(out.find("Operation not permitted"), std::string::npos) << out;
  EXPECT_EQ(Sh("nft delete table inet " + TableName() + " >/dev/null 2>&1; echo rc=$?"), "rc=1\n");
}

TEST(NftTable, SyncInstallsElementsWithDistinctMarksInsideTheMask) {
  auto t = OpenOk(Opts());
  ASSERT_NE(t, nullptr);
  auto r = Sync(
      *t, {M("198.18.0.1:80", "198.18.2.2:8080", 300),
           M("[2001:db8::1]:80", "[2001:db8:2::2]:8080", 300),
           M("0.0.0.0:9090", "198.18.2.2:8082", 200), M("[::]:9090", "[2001:db8:2::2]:8082", 200),
           M("0.0.0.0:53", "198.18.2.2:53", 30, Proto::kUdp)});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->added, 5u);
  EXPECT_EQ(t->installed().size(), 5u);
  std::set<std::uint32_t> marks;
  for (const auto& [k, im] : t->installed()) {
    EXPECT_NE(im.mark, 0u);
    EXPECT_EQ(im.mark & 0xffff0000u, im.mark);
    marks.insert(im.mark);
  }
  EXPECT_EQ(marks.size(), 5u);
  std::string listing = Sh("nft list table inet " + TableName());
  EXPECT_NE(listing.find("tcp . 198.18.0.1 . 80 : 198.18.2.2 . 8080"), std::string::npos) << listing;
  EXPECT_NE(listing.find("tcp . 2001:db8::1 . 80 : 2001:db8:2::2 . 8080"), std::string::npos);
  EXPECT_NE(listing.find("udp . 53 : 198.18.2.2 . 53"), std::string::npos);
  EXPECT_NE(listing.find("tcp . 9090 : 2001:db8:2::2 . 8082"), std::string::npos);
  EXPECT_NE(listing.find("tcp . 198.18.0.1 . 80 : \"timeout_tcp_ipv4_300s\""), std::string::npos);
}

TEST(NftTable, TimeoutObjectsAreSharedByValueAndFillEveryState) {
  auto t = OpenOk(Opts());
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(
      Sync(*t, {M("198.18.0.1:80", "198.18.2.2:80", 90), M("198.18.0.1:81", "198.18.2.2:81", 90),
                M("198.18.0.1:82", "198.18.2.2:82", 20)})
          .ok());
  std::string listing = Sh("nft list table inet " + TableName());
  // Two objects for three mappings: shared by (protocol, family, seconds).
  EXPECT_NE(listing.find("ct timeout timeout_tcp_ipv4_90s"), std::string::npos) << listing;
  EXPECT_NE(listing.find("ct timeout timeout_tcp_ipv4_20s"), std::string::npos);
  // Every state expires no later than the flow timeout; shorter kernel
  // defaults stay (nft prints only the states that differ from them).
  EXPECT_NE(listing.find("policy = { syn_sent : 90, established : 90, fin_wait : 90, time_wait : 90, "
                         "syn_sent2 : 90, retrans : 90, unack : 90 }"),
            std::string::npos)
      << listing;
  EXPECT_NE(listing.find("policy = { syn_sent : 20, syn_recv : 20, established : 20, fin_wait : 20, "
                         "close_wait : 20, last_ack : 20, time_wait : 20, syn_sent2 : 20, "
                         "retrans : 20, unack : 20 }"),
            std::string::npos)
      << listing;
  // Removing the last user of an object keeps it, unused, for reuse
  // (UnusedTimeoutObjectsAreKeptAndDeletedAFewAtATime).
  ASSERT_TRUE(Sync(*t, {M("198.18.0.1:80", "198.18.2.2:80", 90)}).ok());
  listing = Sh("nft list table inet " + TableName());
  EXPECT_NE(listing.find("ct timeout timeout_tcp_ipv4_20s"), std::string::npos) << listing;
  EXPECT_EQ(listing.find("\"timeout_tcp_ipv4_20s\""), std::string::npos) << listing;
  EXPECT_NE(listing.find("timeout_tcp_ipv4_90s"), std::string::npos);
}

TEST(NftTable, SyncIsIdempotentAndKeepsMarks) {
  auto t = OpenOk(Opts());
  ASSERT_NE(t, nullptr);
  std::vector<Mapping> want = {M("198.18.0.1:80", "198.18.2.2:80"), M("198.18.0.1:81", "198.18.2.2:81")};
  ASSERT_TRUE(Sync(*t, want).ok());
  auto marks = t->installed();
  auto r = Sync(*t, want);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->added, 0u);
  EXPECT_EQ(r->removed, 0u);
  EXPECT_EQ(r->unchanged, 2u);
  for (const auto& [k, im] : t->installed()) EXPECT_EQ(im.mark, marks.at(k).mark);
}

TEST(NftTable, ChangeReplacesInPlaceAndRemoves) {
  auto t = OpenOk(Opts());
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(
      Sync(*t, {M("198.18.0.1:80", "198.18.2.2:80"), M("198.18.0.1:81", "198.18.2.2:81")}).ok());
  std::uint32_t mark80 = MarkOf(*t, M("198.18.0.1:80", "198.18.2.2:80").key);
  auto r =
      Change(*t, {M("198.18.0.1:80", "198.18.2.3:8080", 120), M("198.18.0.1:82", "198.18.2.2:82")},
             {M("198.18.0.1:81", "198.18.2.2:81").key, M("198.18.0.1:99", "198.18.2.2:99").key});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->added, 2u);    // one replaced, one new
  EXPECT_EQ(r->removed, 1u);  // :99 was never installed
  ASSERT_EQ(t->installed().size(), 2u);
  EXPECT_EQ(MarkOf(*t, M("198.18.0.1:80", "198.18.2.2:80").key), mark80);
  std::string listing = Sh("nft list map inet " + TableName() + " dnat4");
  EXPECT_NE(listing.find("tcp . 198.18.0.1 . 80 : 198.18.2.3 . 8080"), std::string::npos) << listing;
  EXPECT_EQ(listing.find(". 81 :"), std::string::npos) << listing;
}

TEST(NftTable, ChangeReportsWhatCameAndWentAndManagesTimeoutObjects) {
  auto t = OpenOk(Opts());
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(Sync(*t, {M("198.18.0.1:80", "198.18.2.2:80", 60)}).ok());
  auto on = Change(*t, {M("198.18.0.1:81", "198.18.2.2:81", 20)}, {});
  ASSERT_TRUE(on.ok()) << on.status().message();
  ASSERT_EQ(on->fresh.size(), 1u);
  EXPECT_TRUE(on->gone.empty());
  std::uint32_t mark81 = on->fresh[0].mark;
  EXPECT_EQ(MarkOf(*t, on->fresh[0].mapping.key), mark81);
  EXPECT_NE(mark81, MarkOf(*t, M("198.18.0.1:80", "198.18.2.2:80").key));
  std::string listing = Sh("nft list table inet " + TableName());
  EXPECT_NE(listing.find("ct timeout timeout_tcp_ipv4_20s"), std::string::npos) << listing;

  // Replacing keeps the key and mark: in neither list.
  auto repl = Change(*t, {M("198.18.0.1:81", "198.18.2.3:81", 20)}, {});
  ASSERT_TRUE(repl.ok());
  EXPECT_TRUE(repl->fresh.empty());
  EXPECT_TRUE(repl->gone.empty());
  EXPECT_EQ(repl->added, 1u);

  auto off = Change(*t, {}, {M("198.18.0.1:81", "198.18.2.2:81").key});
  ASSERT_TRUE(off.ok());
  ASSERT_EQ(off->gone.size(), 1u);
  EXPECT_EQ(off->gone[0].mark, mark81);
  EXPECT_EQ(off->gone[0].mapping.destination.ToString(), "198.18.2.3:81");
  listing = Sh("nft list table inet " + TableName());
  // Its last user went: kept, unused.
  EXPECT_EQ(listing.find("\"timeout_tcp_ipv4_20s\""), std::string::npos) << listing;
  EXPECT_NE(listing.find("ct timeout timeout_tcp_ipv4_60s"), std::string::npos);
  EXPECT_EQ(t->installed().size(), 1u);
}

TEST(NftTable, ANewProcessAdoptsTheOrphanedTableAndItsMappings) {
  auto o = Opts();
  std::map<MappingKey, InstalledMapping> before;
  {
    auto t = OpenOk(o);
    ASSERT_NE(t, nullptr);
    ASSERT_TRUE(
        Sync(*t, {M("198.18.0.1:80", "198.18.2.2:80", 45), M("[::]:443", "[2001:db8::2]:443", 600),
                  M("0.0.0.0:53", "198.18.2.2:53", 30, Proto::kUdp)})
            .ok());
    before = t->installed();
  }  // the owning socket closes: the persistent table stays, orphaned
  std::string listing = Sh("nft list table inet " + TableName());
  EXPECT_NE(listing.find("198.18.0.1 . 80 : 198.18.2.2 . 80"), std::string::npos) << listing;
  EXPECT_EQ(listing.find("flags owner"), std::string::npos) << listing;
  auto t = OpenOk(o);
  ASSERT_NE(t, nullptr);
  EXPECT_STREQ(t->how_opened(), "adopted");
  ASSERT_EQ(t->installed().size(), before.size());
  for (const auto& [k, im] : before) {
    const auto& now = t->installed().at(k);
    EXPECT_EQ(now.mapping, im.mapping) << im.mapping.ToString();
    EXPECT_EQ(now.mark, im.mark);
  }
  EXPECT_NE(Sh("nft list table inet " + TableName()).find("flags owner"), std::string::npos);
}

TEST(NftTable, ASecondOwnerIsRefused) {
  auto o = Opts();
  auto a = OpenOk(o);
  ASSERT_NE(a, nullptr);
  auto b = NftTable::Open(o);
  ASSERT_FALSE(b.ok());
  EXPECT_EQ(b.status().message(),
            "table inet " + TableName() +
                " is owned by another running process (another proxygw-netd?)");
}

TEST(NftTable, AForeignTableOfTheSameNameIsRebuilt) {
  auto o = Opts();
  Sh("nft add table inet " + TableName() + "; nft add chain inet " + TableName() + " mine");
  auto t = OpenOk(o);
  ASSERT_NE(t, nullptr);
  EXPECT_STREQ(t->how_opened(), "rebuilt");
  std::string listing = Sh("nft list table inet " + TableName());
  EXPECT_EQ(listing.find("chain mine"), std::string::npos) << listing;
  EXPECT_NE(listing.find("chain dnat_pre"), std::string::npos);
}

TEST(NftTable, RefusesMoreMappingsThanTheLimitAndChangesNothing) {
  auto t = OpenOk(Opts(2));
  ASSERT_NE(t, nullptr);
  ASSERT_TRUE(Sync(*t, {M("198.18.0.1:80", "198.18.2.2:80")}).ok());
  auto r = Sync(*t, {M("198.18.0.1:81", "198.18.2.2:81"), M("198.18.0.1:82", "198.18.2.2:82"),
                     M("198.18.0.1:83", "198.18.2.2:83")});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "3 mappings; the limit is 2");
  ASSERT_EQ(t->installed().size(), 1u);
  EXPECT_NE(Sh("nft list map inet " + TableName() + " dnat4").find(". 80 :"), std::string::npos);
}

TEST(NftTable, RejectsBadMarkMasksAndLimits) {
  NftTable::Options o = Opts();
  o.mark_mask = 0;
  EXPECT_FALSE(NftTable::Open(o).ok());
  o.mark_mask = 0x0f0f0000;
  EXPECT_EQ(NftTable::Open(o).status().message(),
            "ct mark mask must be one run of contiguous bits, e.g. 0xffff0000");
  o.mark_mask = 0x000000f0;  // 15 mark values
  o.max_mappings = 16;
  EXPECT_EQ(NftTable::Open(o).status().message(),
            "max mappings must be 1-15 (the mark values the ct mark mask has)");
  EXPECT_EQ(NftTable::MarkFor(3, 0x000000f0), 0x30u);
  EXPECT_EQ(NftTable::MarkCapacity(0xffff0000), 65535u);
}

// Sends one UDP datagram from this namespace to `to` (a local address).
void SendUdp(const char* to) {
  auto a = *AddrPort::Parse(to);
  sockaddr_in6 sin6{};
  sockaddr_in sin{};
  sockaddr* sa = reinterpret_cast<sockaddr*>(&sin);
  socklen_t len = sizeof sin;
  if (a.address.is_v4()) {
    sin.sin_family = AF_INET;
    sin.sin_port = htons(a.port);
    std::memcpy(&sin.sin_addr, a.address.data(), 4);
  } else {
    sin6.sin6_family = AF_INET6;
    sin6.sin6_port = htons(a.port);
    std::memcpy(&sin6.sin6_addr, a.address.data(), 16);
    sa = reinterpret_cast<sockaddr*>(&sin6);
    len = sizeof sin6;
  }
  int fd = socket(sa->sa_family, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  ASSERT_GE(fd, 0);
  EXPECT_EQ(sendto(fd, "x", 1, 0, sa, len), 1) << to << ": " << std::strerror(errno);
  close(fd);
}

// Issue 13: `ct mark set` wrote all 32 bits of the ct mark, so bits another
// user had set outside netd's mask were lost. Another table's rules set bit
// 0x1 before netd's mark chain (at -195) and bit 0x2 after it (at 0) on a
// flow's first packet; the flow ends with both and netd's mark. For each
// kind of mapping, with marks of one and of two bits.
TEST(NftTable, MarkingAFlowKeepsOtherUsersMarkBits) {
  auto t = OpenOk(Opts());
  ASSERT_NE(t, nullptr);
  Sh("ip addr add 198.18.0.77/32 dev lo; ip addr add 2001:db8::77/128 dev lo nodad");
  Sh("nft add table inet t_other_user && "
     "nft add chain inet t_other_user out '{ type filter hook output priority -195; }' && "
     "nft add rule inet t_other_user out ct state new ct mark set ct mark or 0x1 && "
     "nft add chain inet t_other_user late '{ type filter hook output priority 0; }' && "
     "nft add rule inet t_other_user late ct state new ct mark set ct mark or 0x2");
  struct Case {
    const char *listen, *dest, *send;
  } cases[] = {{"198.18.0.77:5353", "198.18.0.77:5354", "198.18.0.77:5353"},
               {"0.0.0.0:5355", "198.18.0.77:5354", "198.18.0.77:5355"},
               {"[2001:db8::77]:5356", "[2001:db8::77]:5354", "[2001:db8::77]:5356"},
               {"[::]:5357", "[2001:db8::77]:5354", "[2001:db8::77]:5357"}};
  std::uint32_t want_mark = 0;
  for (const Case& c : cases) {
    auto m = M(c.listen, c.dest, 60, Proto::kUdp);
    ASSERT_TRUE(Change(*t, {m}, {}).ok());
    EXPECT_EQ(MarkOf(*t, m.key), ++want_mark << 16);  // 0x10000, 0x20000, 0x30000 (two bits)...
    SendUdp(c.send);
    std::string port = c.send + std::string(c.send).rfind(':') + 1;
    std::string ct = Sh("conntrack -L -f ipv4 -p udp --orig-port-dst " + port +
                        "; conntrack -L -f ipv6 -p udp --orig-port-dst " + port);
    std::uint32_t mark = MarkOf(*t, m.key) | 0x3;
    EXPECT_NE(ct.find("mark=" + std::to_string(mark) + " "), std::string::npos)
        << c.listen << ": want mark " << mark << ":\n" << ct;
  }
  Sh("nft delete table inet t_other_user; ip addr del 198.18.0.77/32 dev lo; "
     "ip addr del 2001:db8::77/128 dev lo; conntrack -F; conntrack -F -f ipv6");
}

// The mark comes from the policy: a table adopted from a netd that ran with
// another policy (a key's mark changed) has its mapping rewritten with the
// new mark at the next sync, while mappings whose mark is the same are left
// alone.
TEST(NftTable, AnAdoptedMappingWhoseMarkDiffersIsRewritten) {
  auto o = Opts();
  auto a = M("198.18.0.1:80", "198.18.2.2:80"), b = M("198.18.0.1:81", "198.18.2.2:81");
  {
    auto t = OpenOk(o);
    ASSERT_NE(t, nullptr);
    ASSERT_TRUE(t->Sync({{a, 0x30000}, {b, 0x40000}}).ok());
  }
  auto t = OpenOk(o);
  ASSERT_NE(t, nullptr);
  ASSERT_EQ(MarkOf(*t, a.key), 0x30000u) << "read back from the kernel";
  auto r = t->Sync({{a, 0x50000}, {b, 0x40000}});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->added, 1u);
  EXPECT_EQ(r->unchanged, 1u);
  EXPECT_EQ(MarkOf(*t, a.key), 0x50000u);
  std::string listing = Sh("nft list map inet " + TableName() + " mark4");
  EXPECT_NE(listing.find("tcp . 198.18.0.1 . 80 : 0x00050000"), std::string::npos) << listing;
  EXPECT_NE(listing.find("tcp . 198.18.0.1 . 81 : 0x00040000"), std::string::npos) << listing;
  // A change that enables it again with its mark changes nothing.
  r = t->Change({{a, 0x50000}}, {});
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->unchanged, 1u);
}

// Issue 13: kernels before 6.9 have no owner and persist flags. netd then
// creates a plain table, and a restarted netd adopts it with its mappings
// (forced here with try_persist: the test machines run 6.18).
TEST(NftTable, WithoutOwnerAndPersistAPlainTableIsCreatedAndAdopted) {
  auto o = Opts();
  o.try_persist = false;
  auto m = M("198.18.0.1:80", "198.18.2.2:80", 45);
  {
    auto t = OpenOk(o);
    ASSERT_NE(t, nullptr);
    EXPECT_STREQ(t->how_opened(), "created");
    EXPECT_FALSE(t->persistent());
    ASSERT_TRUE(Sync(*t, {m}).ok());
    // No table flags (a set's flags are indented twice).
    std::string listing = Sh("nft list table inet " + TableName());
    EXPECT_EQ(listing.find("\n\tflags "), std::string::npos) << listing;
  }
  // A plain table stays when its netd goes; the next one adopts it (and
  // does not make it persistent, even when it could).
  for (bool persist : {false, true}) {
    o.try_persist = persist;
    auto t = OpenOk(o);
    ASSERT_NE(t, nullptr);
    EXPECT_STREQ(t->how_opened(), "adopted");
    EXPECT_FALSE(t->persistent());
    ASSERT_EQ(t->installed().size(), 1u);
    EXPECT_EQ(t->installed().begin()->second.mapping, m);
    auto r = Sync(*t, {m});
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->unchanged, 1u);
  }
  EXPECT_EQ(Sh("nft list table inet " + TableName()).find("\n\tflags "), std::string::npos);
}

// Issue 13: deleting a ct timeout object walks the whole conntrack table,
// and one sync deleted every object its mappings had used (up to
// max_mappings of them). Unused objects are kept for reuse, up to 32, and
// past that at most 4 are deleted per transaction.
TEST(NftTable, UnusedTimeoutObjectsAreKeptAndDeletedAFewAtATime) {
  auto t = OpenOk(Opts());
  ASSERT_NE(t, nullptr);
  auto objects = [&] {
    return Sh("nft list table inet " + TableName() + " 2>/dev/null | grep -c 'ct timeout timeout_'");
  };
  std::vector<Mapping> many;
  for (int i = 0; i < 40; ++i) {
    many.push_back(M(("198.18.0.1:" + std::to_string(1000 + i)).c_str(), "198.18.2.2:80",
                     100 + static_cast<std::uint32_t>(i)));
  }
  ASSERT_TRUE(Sync(*t, many).ok());
  EXPECT_EQ(objects(), "40\n");
  ASSERT_TRUE(Sync(*t, {}).ok());
  EXPECT_EQ(objects(), "36\n");
  ASSERT_TRUE(Change(*t, {}, {many[0].key}).ok());  // nothing to do but delete 4 more
  EXPECT_EQ(objects(), "32\n");
  ASSERT_TRUE(Sync(*t, {}).ok());
  EXPECT_EQ(objects(), "32\n");
  // A kept object is used again, not created again.
  ASSERT_TRUE(Change(*t, {many[39]}, {}).ok());
  EXPECT_EQ(objects(), "32\n");
  std::string listing = Sh("nft list map inet " + TableName() + " tmo4");
  EXPECT_NE(listing.find("\"timeout_tcp_ipv4_139s\""), std::string::npos) << listing;
}

// The kept objects are bounded: a table never holds more than max_mappings
// + 32 of them, whatever timeouts come and go.
TEST(NftTable, KeptTimeoutObjectsAreBounded) {
  auto t = OpenOk(Opts(8));
  ASSERT_NE(t, nullptr);
  for (std::uint32_t round = 0; round < 6; ++round) {
    std::vector<Mapping> ms;
    for (std::uint32_t i = 0; i < 8; ++i) {
      ms.push_back(M(("198.18.0.1:" + std::to_string(1000 + i)).c_str(), "198.18.2.2:80",
                     100 + round * 8 + i));
    }
    ASSERT_TRUE(Sync(*t, ms).ok());
  }
  EXPECT_EQ(Sh("nft list table inet " + TableName() + " 2>/dev/null | grep -c 'ct timeout timeout_'"),
            "40\n");
}

TEST(NftTable, TenThousandMappingsInOneTransaction) {
  auto t = OpenOk(Opts(10000));
  ASSERT_NE(t, nullptr);
  std::vector<Mapping> many;
  for (int i = 0; i < 10000; ++i) {
    std::string l = "198.18." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + ":80";
    std::string d = "198.19." + std::to_string(i / 250) + "." + std::to_string(i % 250 + 1) + ":8080";
    many.push_back(M(l.c_str(), d.c_str(), 60 + static_cast<std::uint32_t>(i % 3)));
  }
  auto r = Sync(*t, many);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->added, 10000u);
  EXPECT_EQ(t->installed().size(), 10000u);
  std::string count = Sh("nft list map inet " + TableName() + " dnat4 | grep -o ' : 198.19' | wc -l");
  EXPECT_EQ(count, "10000\n");
  // Removing them is one transaction too.
  r = Sync(*t, {});
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->removed, 10000u);
}

}  // namespace
}  // namespace netd
