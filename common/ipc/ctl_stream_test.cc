#include "common/ipc/ctl_stream.h"

#include <gtest/gtest.h>

#include "common/ipc/ctl_testing.h"

namespace ipc::ctl {
namespace {

using namespace test_util;
using namespace std::string_literals;

// The stream error `bytes` produce (fed whole).
std::string StreamError(Codec codec, std::string_view bytes, std::size_t max = kMaxRequestBytes) {
  StreamDecoder d(codec, max);
  d.Feed(bytes);
  for (;;) {
    auto r = d.Next();
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), common::Status::Code::kProtocolError);
      return r.status().message();
    }
    if (!r->has_value()) {
      ADD_FAILURE() << "no error for: " << bytes;
      return "";
    }
  }
}

TEST(CtlStream, DecodesAcrossAnySplit) {
  for (Codec codec : {Codec::kJson, Codec::kCbor}) {
    std::string stream = EncodePacket(codec, 1, SampleStatus()) +
                         EncodePacket(codec, 2, WarmTargetRequest{"a\"}{b"}) +
                         EncodePacket(codec, 3, StatusRequest{});
    StreamDecoder d(codec, kMaxResponseBytes);
    std::vector<Packet> got;
    for (char c : stream) {
      d.Feed(std::string_view(&c, 1));
      for (;;) {
        auto r = d.Next();
        ASSERT_TRUE(r.ok()) << r.status().message();
        if (!r->has_value()) break;
        got.push_back(std::move(**r));
      }
    }
    ASSERT_EQ(got.size(), 3u) << CodecName(codec);
    EXPECT_TRUE(*got[0].body == Body(SampleStatus()));
    EXPECT_TRUE(*got[1].body == Body(WarmTargetRequest{"a\"}{b"}));
    EXPECT_EQ(got[2].id, 3u);
    EXPECT_TRUE(d.Idle());
  }
}

TEST(CtlStream, JsonAcceptsAnyWhitespaceBetweenPackets) {
  auto ps = DecodeAll(Codec::kJson,
                      " \r\n\t{ \"id\" : 1 ,\n \"method\":2,\"body\":{}}{\"id\":2,\"method\":2,"
                      "\"body\":{}}\n\n  {\"id\":3,\"method\":8,\"body\":{\"name\":\"web\"}}  ");
  ASSERT_EQ(ps.size(), 3u);
  EXPECT_EQ(ps[0].id, 1u);
  EXPECT_EQ(ps[1].id, 2u);
  EXPECT_TRUE(*ps[2].body == Body(WarmTargetRequest{"web"}));
}

TEST(CtlStream, IdleOnlyBetweenPackets) {
  StreamDecoder d(Codec::kJson, kMaxRequestBytes);
  EXPECT_TRUE(d.Idle());
  d.Feed(" \n");
  EXPECT_TRUE(d.Idle());
  d.Feed("{\"id\":1,");
  ASSERT_TRUE(d.Next().ok());
  EXPECT_FALSE(d.Idle());
  d.Feed("\"method\":2,\"body\":{}}\n");
  auto r = d.Next();
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_TRUE(d.Idle());

  StreamDecoder c(Codec::kCbor, kMaxRequestBytes);
  std::string p = EncodePacket(Codec::kCbor, 1, StatusRequest{});
  c.Feed(p.substr(0, 3));
  ASSERT_TRUE(c.Next().ok());
  EXPECT_FALSE(c.Idle());
  c.Feed(p.substr(3));
  r = c.Next();
  ASSERT_TRUE(r.ok() && r->has_value());
  EXPECT_TRUE(c.Idle());
}

TEST(CtlStream, JsonStreamErrors) {
  EXPECT_EQ(StreamError(Codec::kJson, "[1,2]\n"),
            "invalid JSON: a packet must be an object, got '['");
  EXPECT_EQ(StreamError(Codec::kJson, "GET / HTTP/1.1\r\n"),
            "invalid JSON: a packet must be an object, got 'G'");
  EXPECT_EQ(StreamError(Codec::kJson, std::string("\0", 1)),
            "invalid JSON: a packet must be an object, got byte 0x00");
  EXPECT_EQ(StreamError(Codec::kJson, "{\"id\":x}\n"),
            "invalid JSON: parse error at line 1, column 7: syntax error while parsing value - "
            "invalid literal; last read: '\"id\":x'");
  EXPECT_EQ(StreamError(Codec::kJson, "{\"id\":1]\n"),
            "invalid JSON: parse error at line 1, column 8: syntax error while parsing object - "
            "unexpected ']'; expected '}'");
  EXPECT_EQ(StreamError(Codec::kJson, "{\"id\":\"\xff\"}"),
            "invalid JSON: parse error at line 1, column 8: syntax error while parsing value - "
            "invalid string: ill-formed UTF-8 byte; last read: '\"\xff'");
  EXPECT_EQ(StreamError(Codec::kJson, R"({"method":2,"body":{}})"),
            "invalid packet: id is missing");
  EXPECT_EQ(StreamError(Codec::kJson, R"({"id":-1,"method":2,"body":{}})"),
            "invalid packet: id: expected an integer from 0 to 4294967295, got -1");
  EXPECT_EQ(StreamError(Codec::kJson, R"({"id":4294967296,"method":2,"body":{}})"),
            "invalid packet: id: expected an integer from 0 to 4294967295, got 4294967296");
  EXPECT_EQ(StreamError(Codec::kJson, R"({"id":1.0,"method":2,"body":{}})"),
            "invalid packet: id: expected an integer from 0 to 4294967295, got 1.0");
  EXPECT_EQ(StreamError(Codec::kJson, R"({"id":"1","method":2,"body":{}})"),
            "invalid packet: id: expected an integer from 0 to 4294967295, got \"1\"");
  EXPECT_EQ(StreamError(Codec::kJson, R"({"id":1e999})"),
            "invalid JSON: number overflow parsing '1e999'");
}

TEST(CtlStream, JsonSizeLimitIsExact) {
  // A packet of exactly the limit passes; one byte more fails before the
  // packet is complete.
  std::string head = R"({"id":1,"method":8,"body":{"name":")";
  std::string tail = "\"}}";
  std::string name(kMaxRequestBytes - head.size() - tail.size(), 'a');
  auto ps = DecodeAll(Codec::kJson, head + name + tail + "\n");
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(std::get<WarmTargetRequest>(*ps[0].body).name.size(), name.size());
  EXPECT_EQ(StreamError(Codec::kJson, head + name + "aaaa"), "packet is larger than 65536 bytes");
  // Leading whitespace does not count.
  EXPECT_EQ(DecodeAll(Codec::kJson, std::string(100000, ' ') + head + name + tail).size(), 1u);
}

TEST(CtlStream, JsonDepthLimit) {
  std::string deep = R"({"id":1,"method":2,"body":)" + std::string(kMaxDepth - 1, '[') +
                     std::string(kMaxDepth - 1, ']') + "}";
  EXPECT_EQ(DecodeAll(Codec::kJson, deep).size(), 1u);  // exactly kMaxDepth levels
  std::string deeper = R"({"id":1,"method":2,"body":)" + std::string(kMaxDepth, '[');
  EXPECT_EQ(StreamError(Codec::kJson, deeper), "packet nests deeper than 32 levels");
  // Brackets inside strings are not nesting.
  std::string in_string =
      R"({"id":1,"method":8,"body":{"name":")" + std::string(100, '[') + R"(\"{"}})";
  auto ps = DecodeAll(Codec::kJson, in_string);
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(std::get<WarmTargetRequest>(*ps[0].body).name, std::string(100, '[') + "\"{");
}

TEST(CtlStream, CborStreamErrors) {
  EXPECT_EQ(StreamError(Codec::kCbor, "\x83\x01\x02\x03"),
            "invalid CBOR: a packet must be a map, got initial byte 0x83");
  EXPECT_EQ(StreamError(Codec::kCbor, "{\"id\":1}"),
            "invalid CBOR: a packet must be a map, got initial '{'");
  EXPECT_EQ(StreamError(Codec::kCbor, "\xa1\xff"), "invalid CBOR: unexpected break code at byte 1");
  EXPECT_EQ(StreamError(Codec::kCbor, "\xa1\x1c"),
            "invalid CBOR: reserved additional information 28 at byte 1");
  EXPECT_EQ(StreamError(Codec::kCbor, "\xa1\x1f"),
            "invalid CBOR: indefinite length for major type 0 at byte 1");
  EXPECT_EQ(StreamError(Codec::kCbor, "\xa1\x7f\x41"),
            "invalid CBOR: bad chunk in an indefinite-length string at byte 2");
  // A map key that is not text; a tag.
  EXPECT_EQ(StreamError(Codec::kCbor, std::string("\xa1\x01\x02", 3)).rfind("invalid CBOR: ", 0),
            0u);
  EXPECT_EQ(StreamError(Codec::kCbor, "\xa1\x62id\xc1\x01").rfind("invalid CBOR: ", 0), 0u);
  // A declared length beyond the limit fails at once, without waiting.
  EXPECT_EQ(StreamError(Codec::kCbor, "\xa1\x62id\x7a\x00\x01\x00\x00"s),
            "packet is larger than 65536 bytes");
  EXPECT_EQ(StreamError(Codec::kCbor, "\xbb\xff\xff\xff\xff\xff\xff\xff\xff"),
            "packet is larger than 65536 bytes");
  EXPECT_EQ(StreamError(Codec::kCbor, "\xa1\x62id" + std::string(kMaxDepth, '\x81')),
            "packet nests deeper than 32 levels");
  EXPECT_EQ(StreamError(Codec::kCbor, Cbor({{"method", 2}, {"body", nlohmann::json::object()}})),
            "invalid packet: id is missing");
  EXPECT_EQ(StreamError(Codec::kCbor, Cbor({{"id", -5}})),
            "invalid packet: id: expected an integer from 0 to 4294967295, got -5");
}

TEST(CtlStream, CborIndefiniteLengthsAreFramed) {
  // {_ "id": 1, "method": 8, "body": {_ "name": (_ "w", "eb")}} then a status request.
  std::string p =
      "\xbf\x62id\x01\x66method\x08\x64"
      "body\xbf\x64name\x7f\x61w\x62"
      "eb\xff\xff\xff";
  p += EncodePacket(Codec::kCbor, 2, StatusRequest{});
  auto ps = DecodeAll(Codec::kCbor, p);
  ASSERT_EQ(ps.size(), 2u);
  ASSERT_TRUE(ps[0].body.ok()) << ps[0].body.status().message();
  EXPECT_TRUE(*ps[0].body == Body(WarmTargetRequest{"web"}));
  EXPECT_EQ(ps[1].id, 2u);
}

TEST(CtlStream, ErrorsAreSticky) {
  StreamDecoder d(Codec::kJson, kMaxRequestBytes);
  d.Feed("]{\"id\":1,\"method\":2,\"body\":{}}");
  auto r = d.Next();
  ASSERT_FALSE(r.ok());
  d.Feed("{\"id\":1,\"method\":2,\"body\":{}}");
  auto again = d.Next();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().message(), r.status().message());
}

}  // namespace
}  // namespace ipc::ctl
