// The engine-side stubs of netd's requests: what they build, and one test per
// refusal that netd's validator would otherwise answer by closing the
// connection of every target.
#include "proxygw-engine/netd_stubs.h"

#include <gtest/gtest.h>

#include "proxygw-engine/testing/loop.h"

namespace engine::netd_stubs {
namespace {

using ipc::netd::Mapping;
using ipc::netd::MappingKey;
using testing::TcpMapping;

std::string EnableError(const Owned& installed, const std::string& owner,
                        const std::vector<Mapping>& ms, std::uint32_t max = 100) {
  auto r = Enable(installed, owner, ms, max);
  EXPECT_FALSE(r.ok());
  if (r.ok()) return "";
  EXPECT_TRUE(r.status().IsInvalidArgument());
  return r.status().message();
}

TEST(NetdStubs, EnableSwitchesOnTheOwnersMappingsAndOffThoseItDropped) {
  Owned installed{{"web",
                   {TcpMapping("198.18.0.1:80", "198.18.2.2:80"),
                    TcpMapping("198.18.0.1:81", "198.18.2.2:81")}},
                  {"game", {TcpMapping("198.18.0.1:25565", "198.18.2.3:25565")}}};
  auto r = Enable(installed, "web", {TcpMapping("198.18.0.1:80", "198.18.2.2:8080")}, 100);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->enable, std::vector<Mapping>{TcpMapping("198.18.0.1:80", "198.18.2.2:8080")});
  EXPECT_EQ(r->disable, std::vector<MappingKey>{TcpMapping("198.18.0.1:81", "198.18.2.2:81").key});
}

TEST(NetdStubs, EnableRefusesAMappingNetdWouldRefuse) {
  EXPECT_EQ(EnableError({}, "web", {TcpMapping("198.18.0.1:80", "198.18.0.1:80")}),
            "tcp 198.18.0.1:80 -> 198.18.0.1:80 (60s): destination equals the listen address");
  EXPECT_EQ(EnableError({}, "web", {TcpMapping("198.18.0.1:80", "198.18.2.2:80", 0)}),
            "tcp 198.18.0.1:80 -> 198.18.2.2:80 (0s): flow timeout must be 1-2073600 seconds");
}

TEST(NetdStubs, EnableRefusesAKeyListedTwice) {
  EXPECT_EQ(EnableError({}, "web",
                        {TcpMapping("198.18.0.1:80", "198.18.2.2:80"),
                         TcpMapping("198.18.0.1:80", "198.18.2.3:80")}),
            "tcp 198.18.0.1:80: listed twice");
}

TEST(NetdStubs, EnableRefusesAKeyAnotherTargetForwards) {
  EXPECT_EQ(EnableError({{"game", {TcpMapping("198.18.0.1:80", "198.18.2.3:80")}}}, "web",
                        {TcpMapping("198.18.0.1:80", "198.18.2.2:80")}),
            "tcp 198.18.0.1:80: already forwarded for target game");
}

TEST(NetdStubs, EnableRefusesGoingPastTheLimitNetdAnnounced) {
  Owned installed{{"game", {TcpMapping("198.18.0.1:25565", "198.18.2.3:25565")}}};
  EXPECT_EQ(EnableError(installed, "web",
                        {TcpMapping("198.18.0.1:80", "198.18.2.2:80"),
                         TcpMapping("198.18.0.1:81", "198.18.2.2:81")},
                        2),
            "3 mappings; the limit is 2 (proxygw-netd --max-mappings)");
  // Its own mappings, replaced, do not count twice.
  installed["web"] = {TcpMapping("198.18.0.1:80", "198.18.2.2:80")};
  EXPECT_TRUE(Enable(installed, "web", {TcpMapping("198.18.0.1:80", "198.18.2.2:80")}, 2).ok());
}

TEST(NetdStubs, EnableRefusesASpecificAddressUnderAnotherTargetsWildcard) {
  EXPECT_EQ(EnableError({{"all", {TcpMapping("0.0.0.0:80", "198.18.2.3:80")}}}, "web",
                        {TcpMapping("198.18.0.1:80", "198.18.2.2:80")}),
            "tcp 198.18.0.1:80: overlaps the wildcard mapping of port 80");
}

TEST(NetdStubs, EnableRefusesMoreMappingsThanOneMessageCarries) {
  std::vector<Mapping> many;
  for (int i = 1; i <= 1025; ++i) {
    auto m = TcpMapping("198.18.0.1:1", "198.18.2.2:80");
    m.key.port = static_cast<std::uint16_t>(i);
    many.push_back(m);
  }
  EXPECT_EQ(EnableError({}, "web", many, 5000), "1025 mappings; one request carries at most 1024");
}

TEST(NetdStubs, AnOwnerMaySwitchItsOwnSpecificMappingToTheWildcardOfThatPort) {
  Installed installed({{"web", {TcpMapping("198.18.0.1:80", "198.18.2.2:80")}}});
  auto r = installed.Enable("web", {TcpMapping("0.0.0.0:80", "198.18.2.2:80")}, 100);
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->disable, std::vector<MappingKey>{TcpMapping("198.18.0.1:80", "198.18.2.2:80").key});
  // Another owner's specific mapping still overlaps.
  installed.Set("game", {TcpMapping("198.18.0.2:80", "198.18.2.3:80")});
  EXPECT_FALSE(installed.Enable("web", {TcpMapping("0.0.0.0:80", "198.18.2.2:80")}, 100).ok());
}

// The index kept across changes answers as one built from scratch: keys,
// ports and the count follow Set and Erase.
TEST(NetdStubs, TheInstalledIndexFollowsSetAndErase) {
  Installed installed;
  installed.Set("a", {TcpMapping("0.0.0.0:80", "198.18.2.2:80"),
                      TcpMapping("198.18.0.1:81", "198.18.2.2:81")});
  installed.Set("b", {TcpMapping("198.18.0.1:82", "198.18.2.2:82")});
  EXPECT_FALSE(installed.Enable("c", {TcpMapping("198.18.0.1:80", "198.18.2.3:80")}, 100).ok())
      << "under a's wildcard";
  EXPECT_FALSE(installed.Enable("c", {TcpMapping("198.18.0.1:82", "198.18.2.3:82")}, 100).ok())
      << "b's key";
  EXPECT_FALSE(installed.Enable("c", {TcpMapping("198.18.0.1:90", "198.18.2.3:90")}, 3).ok())
      << "4 in all past a limit of 3";
  installed.Set("a", {TcpMapping("198.18.0.1:81", "198.18.2.2:81")});  // a drops its wildcard
  installed.Erase("b");
  EXPECT_TRUE(installed.Enable("c", {TcpMapping("198.18.0.1:80", "198.18.2.3:80"),
                                     TcpMapping("198.18.0.1:82", "198.18.2.3:82")},
                               3)
                  .ok());
  EXPECT_EQ(installed.owned(), (Owned{{"a", {TcpMapping("198.18.0.1:81", "198.18.2.2:81")}}}));
  installed.Set("a", {});
  EXPECT_FALSE(installed.Has("a"));
}

TEST(NetdStubs, DisableRemovesEverythingTheOwnerHas) {
  Owned installed{{"web", {TcpMapping("198.18.0.1:80", "198.18.2.2:80")}}};
  EXPECT_EQ(Disable(installed, "web").disable,
            std::vector<MappingKey>{TcpMapping("198.18.0.1:80", "198.18.2.2:80").key});
  EXPECT_TRUE(Disable(installed, "game").disable.empty());
}

TEST(NetdStubs, FlushRefusesAKeyNetdWouldRefuse) {
  auto k = TcpMapping("198.18.0.1:80", "198.18.2.2:80").key;
  k.port = 0;
  auto r = Flush({k});
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "tcp 198.18.0.1:0: listen port 0");
}

TEST(NetdStubs, ASyncLeavesOutOnlyTheTargetsNetdWouldRefuse) {
  Owned desired{{"a", {TcpMapping("198.18.0.1:80", "198.18.2.2:80")}},
                {"b", {TcpMapping("0.0.0.0:80", "198.18.2.3:80")}},  // overlaps a's
                {"c", {TcpMapping("198.18.0.1:81", "198.18.2.2:81")}},
                {"d", {TcpMapping("198.18.0.1:82", "198.18.2.2:82")}}};  // past the limit of 2
  SyncPlan plan = PlanSync(desired, 2);
  EXPECT_EQ(plan.mappings, (std::vector<Mapping>{TcpMapping("198.18.0.1:80", "198.18.2.2:80"),
                                                 TcpMapping("198.18.0.1:81", "198.18.2.2:81")}));
  ASSERT_EQ(plan.refused.size(), 2u);
  EXPECT_EQ(plan.refused[0].first, "b");
  EXPECT_EQ(plan.refused[0].second.message(),
            "tcp 198.18.0.1:80: overlaps the wildcard mapping of port 80");
  EXPECT_EQ(plan.refused[1].first, "d");
  EXPECT_EQ(plan.refused[1].second.message(),
            "3 mappings; the limit is 2 (proxygw-netd --max-mappings)");
}

}  // namespace
}  // namespace engine::netd_stubs
