// The status response and text components of minecraft:server, and the
// favicon's checks.
#include "plugins/minecraft/status_json.h"

#include <gtest/gtest.h>

#include <string>

#include "plugins/minecraft/favicon.h"

namespace plugins::minecraft {
namespace {

using namespace std::string_literals;

TEST(McStatusJson, HasTheFieldsInOrder) {
  StatusInfo info{"proxygw-minecraft", 767, 20, 0, "Asleep", ""};
  EXPECT_EQ(StatusJson(info),
            "{\"version\":{\"name\":\"proxygw-minecraft\",\"protocol\":767},\"players\":{"
            "\"max\":20,\"online\":0},\"description\":{\"text\":\"Asleep\"}}");
}

TEST(McStatusJson, EscapesTextsAndAddsTheFavicon) {
  StatusInfo info{"v\"1",
                  5,
                  0,
                  0,
                  "line1\n\xc2\xa7"
                  "aline2 \\ \x01",
                  "data:image/png;base64,AA=="};
  EXPECT_EQ(StatusJson(info),
            "{\"version\":{\"name\":\"v\\\"1\",\"protocol\":5},\"players\":{\"max\":0,"
            "\"online\":0},\"description\":{\"text\":\"line1\\n\xc2\xa7"
            "aline2 \\\\ \\u0001\"},"
            "\"favicon\":\"data:image/png;base64,AA==\"}");
}

TEST(McStatusJson, ReplacesBytesThatAreNotUtf8) {
  EXPECT_EQ(TextComponent("a\xff"
                          "b"),
            "{\"text\":\"a\xef\xbf\xbd"
            "b\"}");
  EXPECT_EQ(TextComponent(""), "{\"text\":\"\"}");
}

std::string Png(std::uint32_t w, std::uint32_t h) {
  std::string p = "\x89PNG\r\n\x1a\n\x00\x00\x00\x0dIHDR"s;
  for (std::uint32_t v : {w, h}) {
    for (int s = 24; s >= 0; s -= 8) p += static_cast<char>((v >> s) & 0xff);
  }
  p += "\x08\x06\x00\x00\x00"s;  // depth, colour type, ...
  p += "\x00\x00\x00\x00"s;      // CRC (not checked)
  return p;
}

TEST(McFavicon, AcceptsA64x64Png) {
  auto uri = FaviconDataUri(Png(64, 64));
  ASSERT_TRUE(uri.ok()) << uri.status().message();
  EXPECT_EQ(uri->substr(0, 22), "data:image/png;base64,");
  EXPECT_EQ(uri->substr(22), Base64(Png(64, 64)));
}

TEST(McFavicon, RejectsOtherSizesAndOtherFiles) {
  EXPECT_EQ(FaviconDataUri(Png(32, 64)).status().message(),
            "is 32x64 pixels; the server list needs 64x64");
  EXPECT_EQ(FaviconDataUri("GIF89a").status().message(), "is not a PNG image");
  EXPECT_EQ(FaviconDataUri(Png(64, 64) + std::string(kMaxFaviconBytes, 'x')).status().message(),
            "is " + std::to_string(Png(64, 64).size() + kMaxFaviconBytes) +
                " bytes; a favicon may have at most 20000");
}

TEST(McFavicon, Base64PadsAsRfc4648) {
  EXPECT_EQ(Base64(""), "");
  EXPECT_EQ(Base64("f"), "Zg==");
  EXPECT_EQ(Base64("fo"), "Zm8=");
  EXPECT_EQ(Base64("foo"), "Zm9v");
  EXPECT_EQ(Base64("foobar"), "Zm9vYmFy");
  EXPECT_EQ(Base64("\xff\xfe"s), "//4=");
}

TEST(McFavicon, ReadsAFileAndNamesItInErrors) {
  EXPECT_EQ(ReadFavicon("/nonexistent/icon.png").status().message(),
            "cannot read /nonexistent/icon.png: No such file or directory");
  EXPECT_EQ(ReadFavicon("/").status().message(), "/ is not a regular file");
}

}  // namespace
}  // namespace plugins::minecraft
