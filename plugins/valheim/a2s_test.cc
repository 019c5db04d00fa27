// A2S request parsing and answer building, against the byte layouts of
// Valve's "Server queries" page.
#include "plugins/valheim/a2s.h"

#include <gtest/gtest.h>

#include <string>

namespace plugins::valheim {
namespace {

using namespace std::string_literals;

const std::string kInfoRequest = "\xff\xff\xff\xffTSource Engine Query\0"s;

TEST(A2sQuery, InfoWithAndWithoutAChallenge) {
  auto q = ParseQuery(kInfoRequest);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->kind, QueryKind::kInfo);
  EXPECT_EQ(q->challenge, std::nullopt);
  q = ParseQuery(kInfoRequest + "\x78\x56\x34\x12"s);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->challenge, 0x12345678u);
  q = ParseQuery(kInfoRequest + "\xff\xff\xff\xff"s);
  ASSERT_TRUE(q);
  EXPECT_EQ(q->challenge, std::nullopt);
  // Padded to 1200 bytes, as some clients do.
  q = ParseQuery(kInfoRequest + "\x01\x00\x00\x00"s + std::string(1000, '\0'));
  ASSERT_TRUE(q);
  EXPECT_EQ(q->challenge, 1u);
}

TEST(A2sQuery, PlayerRulesChallengeAndPing) {
  EXPECT_EQ(ParseQuery("\xff\xff\xff\xffU\xff\xff\xff\xff"s)->kind, QueryKind::kPlayer);
  EXPECT_EQ(ParseQuery("\xff\xff\xff\xffU\xff\xff\xff\xff"s)->challenge, std::nullopt);
  EXPECT_EQ(ParseQuery("\xff\xff\xff\xffV\x01\x02\x03\x04"s)->challenge, 0x04030201u);
  EXPECT_EQ(ParseQuery("\xff\xff\xff\xffW"s)->kind, QueryKind::kGetChallenge);
  EXPECT_EQ(ParseQuery("\xff\xff\xff\xffi"s)->kind, QueryKind::kPing);
}

TEST(A2sQuery, RejectsWhatIsNotAQuery) {
  EXPECT_FALSE(ParseQuery(""));
  EXPECT_FALSE(ParseQuery("\xff\xff\xff\xff"s));
  EXPECT_FALSE(ParseQuery("\xfe\xff\xff\xffT"s));                    // a split packet
  EXPECT_FALSE(ParseQuery("\xff\xff\xff\xffTSource Engine Quer"s));  // cut
  EXPECT_FALSE(ParseQuery(kInfoRequest + "\x01\x02"s));              // half a challenge
  EXPECT_FALSE(ParseQuery(kInfoRequest + "\x01\x02\x03\x04x"s));     // trailing bytes
  EXPECT_FALSE(ParseQuery("\xff\xff\xff\xffU\x01\x02\x03"s));
  EXPECT_FALSE(ParseQuery("\xff\xff\xff\xffWx"s));
  EXPECT_FALSE(ParseQuery("\xff\xff\xff\xffX"s));
  EXPECT_FALSE(ParseQuery("\x20\x00\x00\x00\x00\x00"s));  // a game port datagram
}

Info Sample() {
  Info i;
  i.name = "My Valheim Server";
  i.map = "My Valheim Server";
  i.folder = "valheim";
  i.max_players = 10;
  i.password = true;
  i.version = "1.0.0.0";
  i.edf = kEdfPort | kEdfSteamId | kEdfKeywords | kEdfGameId;
  i.port = 2456;
  i.steam_id = kAnonymousGameServerSteamId;
  i.keywords = "g=0.221.12,n=36,m=";
  i.game_id = 892970;
  return i;
}

TEST(A2sInfo, BuildsTheDocumentedLayout) {
  Info i = Sample();
  std::string expected = "\xff\xff\xff\xffI\x11"s + "My Valheim Server\0"s +
                         "My Valheim Server\0"s + "valheim\0"s + "\0"s + "\x00\x00"s +
                         "\x00\x0a\x00"s + "dl"s + "\x01\x00"s + "1.0.0.0\0"s + "\xb1"s +
                         "\x98\x09"s + "\x00\x00\x00\x00\x00\x00\x40\x01"s +
                         "g=0.221.12,n=36,m=\0"s + "\x2a\xa0\x0d\x00\x00\x00\x00\x00"s;
  EXPECT_EQ(BuildInfo(i), expected);
}

TEST(A2sInfo, ParsesWhatItBuilds) {
  Info i = Sample();
  auto p = ParseInfo(BuildInfo(i));
  ASSERT_TRUE(p.ok()) << p.status().message();
  EXPECT_EQ(p->name, i.name);
  EXPECT_EQ(p->folder, "valheim");
  EXPECT_TRUE(p->password);
  EXPECT_FALSE(p->vac);
  EXPECT_EQ(p->port, 2456);
  EXPECT_EQ(p->steam_id, kAnonymousGameServerSteamId);
  EXPECT_EQ(p->keywords, i.keywords);
  EXPECT_EQ(p->game_id, 892970u);
}

TEST(A2sInfo, CutsStringsAtNul) {
  Info i = Sample();
  i.name = "a\0b"s;
  EXPECT_EQ(ParseInfo(BuildInfo(i))->name, "a");
}

TEST(A2sInfo, ParseRejectsTruncationAndTrailingBytes) {
  const std::string good = BuildInfo(Sample());
  EXPECT_EQ(ParseInfo("\xff\xff\xff\xff" "A1234"s).status().message(), "not an A2S_INFO answer");
  EXPECT_EQ(ParseInfo(good.substr(0, 30)).status().message(), "A2S_INFO answer: truncated");
  EXPECT_EQ(ParseInfo(good.substr(0, good.size() - 1)).status().message(),
            "A2S_INFO answer: truncated extra data");
  EXPECT_EQ(ParseInfo(good + "x").status().message(), "A2S_INFO answer: trailing bytes");
}

TEST(A2sAnswers, ChallengePlayersRulesPing) {
  EXPECT_EQ(BuildChallenge(0x12345678), "\xff\xff\xff\xff\x41\x78\x56\x34\x12"s);
  EXPECT_EQ(BuildNoPlayers(), "\xff\xff\xff\xff\x44\x00"s);
  EXPECT_EQ(BuildNoRules(), "\xff\xff\xff\xff\x45\x00\x00"s);
  EXPECT_EQ(BuildPingReply(), "\xff\xff\xff\xffj00000000000000\0"s);
}

}  // namespace
}  // namespace plugins::valheim
