#include "common/ipc/netd_protocol.h"

#include <gtest/gtest.h>

#include <msgpack.hpp>

namespace ipc::netd {
namespace {

using common::AddrPort;
using common::IpAddress;

Mapping M(const char* listen, const char* dest, std::uint32_t timeout = 60,
          Proto p = Proto::kTcp) {
  auto l = *AddrPort::Parse(listen);
  return Mapping{MappingKey{p, l.address, l.port}, *AddrPort::Parse(dest), timeout};
}

Hold H(const char* listen, std::uint32_t hold_s, std::vector<Prefix> allow = {},
       Proto p = Proto::kTcp) {
  auto l = *AddrPort::Parse(listen);
  return Hold{MappingKey{p, l.address, l.port}, hold_s, std::move(allow)};
}

Prefix P(const char* addr, std::uint8_t len) { return Prefix{*IpAddress::Parse(addr), len}; }

std::vector<std::uint8_t> Pack(const std::function<void(msgpack::packer<msgpack::sbuffer>&)>& f) {
  msgpack::sbuffer buf;
  msgpack::packer<msgpack::sbuffer> p(buf);
  f(p);
  return std::vector<std::uint8_t>(buf.data(), buf.data() + buf.size());
}

std::string DecodeError(const std::vector<std::uint8_t>& bytes) {
  auto r = DecodeRequest(bytes);
  EXPECT_FALSE(r.ok());
  return r.ok() ? "" : r.status().message();
}

TEST(NetdProtocol, RequestsRoundTrip) {
  std::vector<Request> reqs = {
      {1, HelloRequest{1}},
      {2, SyncBeginRequest{3}},
      {3, SyncAddRequest{{M("198.18.0.1:80", "198.18.2.2:8080"),
                          M("[::]:443", "[2001:db8::2]:443", 300),
                          M("0.0.0.0:53", "198.18.2.2:53", 30, Proto::kUdp)}}},
      {4, SyncCommitRequest{}},
      {5, ChangeRequest{{M("198.18.0.1:81", "198.18.2.2:81")},
                        {M("198.18.0.1:80", "198.18.2.2:8080").key}}},
      {6, FlushRequest{{M("[::]:443", "[2001:db8::2]:443").key}}},
      {7, SubscribeRequest{}},
      {8, ShutdownRequest{true}},
      {9, SyncBeginRequest{3, 2}},
      {10, SyncAddRequest{{},
                          {H("198.18.0.1:80", 30, {P("198.18.1.0", 24), P("10.0.0.0", 8)}),
                           H("[::]:53", 300, {}, Proto::kUdp)}}},
      {11, HoldRequest{{H("[2001:db8::1]:443", 5, {P("2001:db8::", 32)}), H("0.0.0.0:80", 0)}}},
      {12, ReleaseRequest{{H("198.18.0.1:80", 1).key}}},
  };
  for (const auto& r : reqs) {
    auto bytes = EncodeRequest(r);
    auto back = DecodeRequest(bytes);
    ASSERT_TRUE(back.ok()) << OpName(r.op()) << ": " << back.status().message();
    EXPECT_EQ(back->id, r.id);
    EXPECT_EQ(back->op(), r.op());
    EXPECT_EQ(EncodeRequest(*back), bytes);
  }
}

TEST(NetdProtocol, MessagesRoundTrip) {
  std::vector<NetdMessage> msgs = {
      {1, ReplyBody(HelloReply{1, true, 10000, 0xffff0000, 12})},
      {2, ReplyBody(ApplyReply{3,
                               1,
                               7,
                               {Warning{M("198.18.0.1:80", "127.0.0.1:8080").key,
                                        WarningCode::kRouteLocalnetOff}}})},
      {3, ReplyBody(EmptyReply{})},
      {4, ErrorReply{ErrorCode::kKernel, 17, "add elements: File exists"}},
      {0, FlowCountsPush{true,
                         {{Proto::kTcp, *AddrPort::Parse("198.18.2.2:8080"), 3},
                          {Proto::kUdp, *AddrPort::Parse("[2001:db8::2]:53"), 0}}}},
      {0, KnockPush{H("[::]:53", 1, {}, Proto::kUdp).key, *IpAddress::Parse("2001:db8:1::2"), 3}},
  };
  for (const auto& m : msgs) {
    auto bytes = EncodeMessage(m);
    auto back = DecodeMessage(bytes);
    ASSERT_TRUE(back.ok()) << back.status().message();
    EXPECT_EQ(back->id, m.id);
    EXPECT_EQ(back->body.index(), m.body.index());
    EXPECT_EQ(EncodeMessage(*back), bytes);
  }
}

TEST(NetdDecode, RejectsEmptyAndGarbage) {
  EXPECT_EQ(DecodeError({}), "empty message");
  EXPECT_EQ(DecodeError({0xc1}), "bad msgpack: parse error");
  // "hello" is the fixint 104 followed by four more bytes.
  EXPECT_EQ(DecodeError({'h', 'e', 'l', 'l', 'o'}), "4 trailing bytes after the message");
  EXPECT_EQ(DecodeError({0x68}), "message: expected an array of 3, got the integer 104");
}

TEST(NetdDecode, RejectsTruncatedMessage) {
  auto bytes = EncodeRequest({1, SyncAddRequest{{M("198.18.0.1:80", "198.18.2.2:80")}}});
  bytes.pop_back();
  EXPECT_EQ(DecodeError(bytes), "truncated msgpack");
}

TEST(NetdDecode, RejectsTrailingBytes) {
  auto bytes = EncodeRequest({1, HelloRequest{1}});
  bytes.push_back(0xc0);
  EXPECT_EQ(DecodeError(bytes), "1 trailing bytes after the message");
}

TEST(NetdDecode, RejectsOversizeMessage) {
  std::vector<std::uint8_t> big(kMaxMessageBytes + 1, 0x90);
  EXPECT_EQ(DecodeError(big), "message of 65537 bytes; the limit is 65536");
}

TEST(NetdDecode, RejectsHugeArrayHeaderWithoutAllocating) {
  // array32 claiming 4G elements: refused by the limits before allocation.
  EXPECT_EQ(DecodeError({0xdd, 0xff, 0xff, 0xff, 0xff}), "bad msgpack: array size overflow");
  // map32 claiming 268M pairs.
  EXPECT_EQ(DecodeError({0xdf, 0x0f, 0xff, 0xff, 0xff}), "bad msgpack: map size overflow");
  // str32 / bin32 claiming 4 GB: the parser wants the bytes before copying.
  EXPECT_EQ(DecodeError({0xdb, 0xff, 0xff, 0xff, 0xff}), "truncated msgpack");
  EXPECT_EQ(DecodeError({0xc6, 0xff, 0xff, 0xff, 0xff}), "truncated msgpack");
  // A 17-byte bin present in full is over the limit (addresses are 4 or 16).
  std::vector<std::uint8_t> bin17 = {0xc4, 17};
  bin17.resize(2 + 17, 0);
  EXPECT_EQ(DecodeError(bin17), "bad msgpack: bin size overflow");
}

TEST(NetdDecode, RejectsDeepNesting) {
  std::vector<std::uint8_t> deep(40, 0x91);  // [[[[...
  deep.push_back(0x01);
  EXPECT_EQ(DecodeError(deep), "bad msgpack: depth size overflow");
}

TEST(NetdDecode, RejectsUnknownOpAndNonRequests) {
  EXPECT_EQ(DecodeError(Pack([](auto& p) {
              p.pack_array(3);
              p.pack(99);
              p.pack(1);
              p.pack_array(0);
            })),
            "unknown op 99");
  EXPECT_EQ(DecodeError(Pack([](auto& p) {
              p.pack_array(3);
              p.pack(64);
              p.pack(1);
              p.pack_array(0);
            })),
            "op reply is not a request");
}

TEST(NetdDecode, RejectsIdZero) {
  EXPECT_EQ(DecodeError(Pack([](auto& p) {
              p.pack_array(3);
              p.pack(1);
              p.pack(0);
              p.pack_array(1);
              p.pack(1);
            })),
            "id: a request id must not be 0");
}

TEST(NetdDecode, RejectsWrongFieldTypes) {
  auto mapping_with = [](auto&& port_field) {
    return Pack([&](auto& p) {
      p.pack_array(3);
      p.pack(3);  // sync-add
      p.pack(7);
      p.pack_array(2);
      p.pack_array(1);
      p.pack_array(6);
      p.pack(6);
      p.pack_bin(4);
      p.pack_bin_body("\xc6\x12\x00\x01", 4);
      port_field(p);
      p.pack_bin(4);
      p.pack_bin_body("\xc6\x12\x02\x02", 4);
      p.pack(80);
      p.pack(60);
      p.pack_array(0);  // holds
    });
  };
  EXPECT_EQ(DecodeError(mapping_with([](auto& p) { p.pack(std::string("80")); })),
            "body.mappings[0].port: expected an integer 0-65535, got a string");
  EXPECT_EQ(DecodeError(mapping_with([](auto& p) { p.pack(70000); })),
            "body.mappings[0].port: expected an integer 0-65535, got the integer 70000");
  EXPECT_EQ(DecodeError(mapping_with([](auto& p) { p.pack(-1); })),
            "body.mappings[0].port: expected an integer 0-65535, got the integer -1");
}

TEST(NetdDecode, RejectsBadAddressesAndProtocols) {
  EXPECT_EQ(DecodeError(Pack([](auto& p) {
              p.pack_array(3);
              p.pack(6);  // flush
              p.pack(2);
              p.pack_array(1);
              p.pack_array(1);
              p.pack_array(3);
              p.pack(6);
              p.pack_bin(5);
              p.pack_bin_body("\x01\x02\x03\x04\x05", 5);
              p.pack(80);
            })),
            "body.keys[0].listen: expected bin of 4 or 16 bytes (an IP address), got bin of 5 "
            "bytes");
  EXPECT_EQ(DecodeError(Pack([](auto& p) {
              p.pack_array(3);
              p.pack(6);
              p.pack(2);
              p.pack_array(1);
              p.pack_array(1);
              p.pack_array(3);
              p.pack(1);  // ICMP
              p.pack_bin(4);
              p.pack_bin_body("\x01\x02\x03\x04", 4);
              p.pack(80);
            })),
            "body.keys[0].proto: unknown protocol 1 (6 tcp, 17 udp)");
}

TEST(NetdDecode, RejectsTooManyItems) {
  FlushRequest f;
  for (std::size_t i = 0; i <= kMaxItemsPerMessage; ++i) {
    f.keys.push_back(MappingKey{Proto::kTcp, IpAddress(), static_cast<std::uint16_t>(i + 1)});
  }
  EXPECT_EQ(DecodeError(EncodeRequest({1, f})), "bad msgpack: array size overflow");
}

TEST(NetdDecode, RejectsBadHolds) {
  // Too many prefixes: refused by the list's bound before anything else.
  HoldRequest many{{H("198.18.0.1:80", 30)}};
  for (int i = 0; i <= static_cast<int>(kMaxAllowPrefixes); ++i) {
    many.holds[0].allow.push_back(P("10.0.0.0", static_cast<std::uint8_t>(8 + i)));
  }
  EXPECT_EQ(DecodeError(EncodeRequest({1, many})),
            "body.holds[0].allow: 17 items; at most 16 per message");
  HoldRequest too_many_holds;
  too_many_holds.holds.assign(kMaxHoldsPerMessage + 1, H("198.18.0.1:80", 30));
  EXPECT_EQ(DecodeError(EncodeRequest({1, too_many_holds})),
            "body.holds: 129 items; at most 128 per message");
  // A prefix length past any family's.
  EXPECT_EQ(DecodeError(EncodeRequest({1, HoldRequest{{H("[::]:80", 30, {P("::", 129)})}}})),
            "body.holds[0].allow[0].length: expected an integer 0-128, got the integer 129");
  // A hold without its allow list.
  EXPECT_EQ(DecodeError(Pack([](auto& p) {
              p.pack_array(3);
              p.pack(9);  // hold
              p.pack(1);
              p.pack_array(1);
              p.pack_array(1);
              p.pack_array(4);
              p.pack(6);
              p.pack_bin(4);
              p.pack_bin_body("\xc6\x12\x00\x01", 4);
              p.pack(80);
              p.pack(30);
            })),
            "body.holds[0]: expected an array of 5, got an array of 4");
  // The old, one-field sync-begin.
  EXPECT_EQ(DecodeError(Pack([](auto& p) {
              p.pack_array(3);
              p.pack(2);
              p.pack(1);
              p.pack_array(1);
              p.pack(3);
            })),
            "body: expected an array of 2, got an array of 1");
}

TEST(NetdDecode, RejectsWrongBodyShape) {
  EXPECT_EQ(DecodeError(Pack([](auto& p) {
              p.pack_array(3);
              p.pack(8);  // shutdown
              p.pack(1);
              p.pack_array(1);
              p.pack(1);
            })),
            "body.remove_table: expected a boolean, got the integer 1");
  EXPECT_EQ(DecodeError(Pack([](auto& p) {
              p.pack_array(3);
              p.pack(7);  // subscribe
              p.pack(1);
              p.pack_array(1);
              p.pack(1);
            })),
            "body: expected an array of 0, got an array of 1");
}

TEST(NetdDecode, PeekRequestIdForErrorReplies) {
  EXPECT_EQ(PeekRequestId(EncodeRequest({42, HelloRequest{9}})), 42u);
  EXPECT_EQ(PeekRequestId(std::vector<std::uint8_t>{0xc1}), 0u);
}

TEST(NetdMessageDecode, RejectsPushWithId) {
  auto bytes = Pack([](auto& p) {
    p.pack_array(3);
    p.pack(66);
    p.pack(5);
    p.pack_array(2);
    p.pack(false);
    p.pack_array(0);
  });
  auto r = DecodeMessage(bytes);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), "id: a push has id 0");
}

TEST(MappingText, NamesProtocolAndAddresses) {
  EXPECT_EQ(M("[::]:443", "[2001:db8::2]:8443", 90).ToString(),
            "tcp [::]:443 -> [2001:db8::2]:8443 (90s)");
  EXPECT_EQ(P("2001:db8::", 32).ToString(), "2001:db8::/32");
}

TEST(NetdMessageDecode, DecodesAKnock) {
  auto r = DecodeMessage(
      EncodeMessage({0, KnockPush{H("198.18.0.1:80", 1).key, *IpAddress::Parse("198.18.1.2"), 2}}));
  ASSERT_TRUE(r.ok()) << r.status().message();
  const auto* k = std::get_if<KnockPush>(&r->body);
  ASSERT_NE(k, nullptr);
  EXPECT_EQ(k->key.ToString(), "tcp 198.18.0.1:80");
  EXPECT_EQ(k->source.ToString(), "198.18.1.2");
  EXPECT_EQ(k->held, 2u);
}

}  // namespace
}  // namespace ipc::netd
