// The Minecraft framing and packets: VarInt limits, frames, the packets of
// the handshaking, status and login states, and the legacy ping's answer.
// Byte sequences come from wiki.vg's examples where it has them.
#include "plugins/minecraft/mc_codec.h"

#include <gtest/gtest.h>

#include <string>

namespace plugins::minecraft {
namespace {

using namespace std::string_literals;

std::string VarInt(std::int32_t v) {
  std::string s;
  AppendVarInt(s, v);
  return s;
}

TEST(McVarInt, EncodesWikiExamples) {
  EXPECT_EQ(VarInt(0), "\x00"s);
  EXPECT_EQ(VarInt(1), "\x01"s);
  EXPECT_EQ(VarInt(127), "\x7f"s);
  EXPECT_EQ(VarInt(128), "\x80\x01"s);
  EXPECT_EQ(VarInt(255), "\xff\x01"s);
  EXPECT_EQ(VarInt(25565), "\xdd\xc7\x01"s);
  EXPECT_EQ(VarInt(2097151), "\xff\xff\x7f"s);
  EXPECT_EQ(VarInt(2147483647), "\xff\xff\xff\xff\x07"s);
  EXPECT_EQ(VarInt(-1), "\xff\xff\xff\xff\x0f"s);
  EXPECT_EQ(VarInt(-2147483648), "\x80\x80\x80\x80\x08"s);
}

TEST(McVarInt, DecodesWhatItEncodes) {
  for (std::int32_t v : {0, 1, 127, 128, 255, 25565, 2097151, 2147483647, -1, -2147483647 - 1}) {
    const std::string bytes = VarInt(v);
    Reader r(bytes);
    EXPECT_EQ(r.VarInt(), v);
    EXPECT_EQ(r.left(), 0u);
  }
}

TEST(McVarInt, RejectsASixthByteAndBitsPast32) {
  const std::string six_bytes = "\xff\xff\xff\xff\xff\x01"s;
  EXPECT_EQ(Reader(six_bytes).VarInt(), std::nullopt);
  // The fifth byte may carry only 4 bits.
  const std::string wide = "\xff\xff\xff\xff\x1f"s;
  EXPECT_EQ(Reader(wide).VarInt(), std::nullopt);
  const std::string cut = "\xff\xff"s;
  EXPECT_EQ(Reader(cut).VarInt(), std::nullopt);
}

TEST(McFrame, NeedsMoreUntilTheWholePacketIsThere) {
  EXPECT_EQ(NextFrame("", 100).state, FrameState::kNeedMore);
  EXPECT_EQ(NextFrame("\x80"s, 100).state, FrameState::kNeedMore);
  EXPECT_EQ(NextFrame("\x03\x00\x01"s, 100).state, FrameState::kNeedMore);
  const std::string bytes = "\x03\x00\x01\x02\x09"s;
  Frame f = NextFrame(bytes, 100);
  ASSERT_EQ(f.state, FrameState::kFrame);
  EXPECT_EQ(f.payload, "\x00\x01\x02"s);
  EXPECT_EQ(f.consumed, 4u);
}

TEST(McFrame, RejectsBadLengthsBeforeTheirBytesArrive) {
  EXPECT_EQ(NextFrame("\x00"s, 100).error, "packet length 0 is not positive");
  EXPECT_EQ(NextFrame("\xff\xff\xff\xff\x0f"s, 100).error, "packet length -1 is not positive");
  EXPECT_EQ(NextFrame("\x80\x80\x80\x80\x80"s, 100).error, "malformed packet length");
  EXPECT_EQ(NextFrame("\x65"s, 100).error, "packet length 101 over the limit of 100");
  Frame f = NextFrame("\x80\x01"s, 100);
  EXPECT_EQ(f.state, FrameState::kError);
  EXPECT_EQ(f.error, "packet length 128 over the limit of 100");
}

TEST(McFrame, FramedPutsTheLengthFirst) {
  EXPECT_EQ(Framed("\x00"s), "\x01\x00"s);
  EXPECT_EQ(Framed(std::string(200, 'x')).substr(0, 2), "\xc8\x01"s);
}

std::string HandshakeBytes(std::int32_t protocol, std::string_view address, std::uint16_t port,
                           std::int32_t next) {
  std::string p(1, '\x00');
  AppendVarInt(p, protocol);
  AppendString(p, address);
  p += static_cast<char>(port >> 8);
  p += static_cast<char>(port & 0xff);
  AppendVarInt(p, next);
  return p;
}

TEST(McHandshake, ParsesAStatusAndALoginHandshake) {
  auto h = ParseHandshake(HandshakeBytes(767, "mc.example", 25565, 1));
  ASSERT_TRUE(h.ok()) << h.status().message();
  EXPECT_EQ(h->protocol, 767);
  EXPECT_EQ(h->address, "mc.example");
  EXPECT_EQ(h->port, 25565);
  EXPECT_EQ(h->next, NextState::kStatus);
  auto login = ParseHandshake(HandshakeBytes(47, "", 1, 2));
  ASSERT_TRUE(login.ok());
  EXPECT_EQ(login->next, NextState::kLogin);
  auto transfer = ParseHandshake(HandshakeBytes(766, "a", 1, 3));
  ASSERT_TRUE(transfer.ok());
  EXPECT_EQ(transfer->next, NextState::kTransfer);
}

TEST(McHandshake, RejectsEachBadField) {
  EXPECT_EQ(ParseHandshake("\x01"s).status().message(), "not a handshake (packet id)");
  EXPECT_EQ(ParseHandshake("\x00"s).status().message(), "handshake: bad protocol version");
  EXPECT_EQ(ParseHandshake("\x00\x01\x05"
                           "ab"s)
                .status()
                .message(),
            "handshake: bad server address");
  EXPECT_EQ(ParseHandshake(HandshakeBytes(1, std::string(766, 'a'), 1, 1)).status().message(),
            "handshake: bad server address");
  EXPECT_EQ(ParseHandshake(HandshakeBytes(1, "\xff\xfe", 1, 1)).status().message(),
            "handshake: bad server address");
  EXPECT_EQ(ParseHandshake("\x00\x01\x00\x63"s).status().message(), "handshake: bad server port");
  EXPECT_EQ(ParseHandshake(HandshakeBytes(1, "a", 1, 0)).status().message(),
            "handshake: bad next state");
  EXPECT_EQ(ParseHandshake(HandshakeBytes(1, "a", 1, 4)).status().message(),
            "handshake: bad next state");
  EXPECT_EQ(ParseHandshake(HandshakeBytes(1, "a", 1, 1) + "x").status().message(),
            "handshake: trailing bytes");
}

TEST(McStatus, RequestAndPing) {
  EXPECT_TRUE(IsStatusRequest("\x00"s));
  EXPECT_FALSE(IsStatusRequest("\x00\x00"s));
  EXPECT_FALSE(IsStatusRequest("\x01"s));
  EXPECT_EQ(ParsePing("\x01"
                      "12345678"s),
            "12345678");
  EXPECT_EQ(ParsePing("\x01"
                      "1234567"s),
            std::nullopt);
  EXPECT_EQ(ParsePing("\x00"
                      "12345678"s),
            std::nullopt);
  EXPECT_EQ(Pong("12345678"),
            "\x09\x01"
            "12345678"s);
}

TEST(McLogin, ReadsTheNameAndIgnoresWhatFollows) {
  std::string p(1, '\x00');
  AppendString(p, "Steve");
  EXPECT_EQ(*ParseLoginStart(p), "Steve");
  EXPECT_EQ(*ParseLoginStart(p + std::string(16, '\x42')), "Steve");  // a UUID (1.20.2+)
  std::string long_name(1, '\x00');
  AppendString(long_name, std::string(49, 'a'));
  EXPECT_EQ(ParseLoginStart(long_name).status().message(), "login start: bad player name");
  EXPECT_EQ(ParseLoginStart("\x00\x00"s).status().message(), "login start: bad player name");
  EXPECT_EQ(ParseLoginStart("\x02"s).status().message(), "not a login start (packet id)");
}

TEST(McLogin, DisconnectCarriesTheTextComponent) {
  EXPECT_EQ(LoginDisconnect("{\"text\":\"hi\"}"), "\x0f\x00\x0d{\"text\":\"hi\"}"s);
  EXPECT_EQ(StatusResponse("{}"), "\x04\x00\x02{}"s);
}

TEST(McLegacy, AnswersThe14FormatInUtf16) {
  EXPECT_TRUE(IsLegacyPing("\xfe\x01"s));
  EXPECT_FALSE(IsLegacyPing("\x10\x00"s));
  LegacyInfo info{"Zzz", "proxygw", 127, 0, 20};
  const std::string text =
      "\xc2\xa7"
      "1\0"
      "127\0proxygw\0Zzz\0"
      "0\0"
      "20"s;
  std::string expected = "\xff\x00"s + static_cast<char>(text.size() - 1);  // '§' is 1 unit
  for (unsigned char c :
       "\xa7"
       "1\0"
       "127\0proxygw\0Zzz\0"
       "0\0"
       "20"s) {
    expected += '\0';
    expected += static_cast<char>(c);
  }
  EXPECT_EQ(LegacyKick("\xfe\x01\xfa"s, info), expected);
}

TEST(McLegacy, AnswersTheBetaFormatWithoutSectionSignsInTheMotd) {
  LegacyInfo info{
      "a\xc2\xa7"
      "b",
      "v", 127, 0, 5};
  std::string expected = "\xff\x00\x06"s;
  for (unsigned char c :
       "ab\xa7"
       "0\xa7"
       "5"s) {
    expected += '\0';
    expected += static_cast<char>(c);
  }
  EXPECT_EQ(LegacyKick("\xfe"s, info), expected);
}

TEST(McUtf8, RejectsOverlongsSurrogatesAndTruncation) {
  EXPECT_TRUE(ValidUtf8("plain \xc2\xa7 \xe2\x82\xac \xf0\x9f\x98\x80"));
  EXPECT_FALSE(ValidUtf8("\xc0\x80"));
  EXPECT_FALSE(ValidUtf8("\xed\xa0\x80"));
  EXPECT_FALSE(ValidUtf8("\xf4\x90\x80\x80"));
  EXPECT_FALSE(ValidUtf8("\xe2\x82"));
  EXPECT_FALSE(ValidUtf8("\x80"));
}

}  // namespace
}  // namespace plugins::minecraft
