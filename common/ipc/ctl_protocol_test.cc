#include "common/ipc/ctl_protocol.h"

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "common/ipc/ctl_testing.h"

namespace ipc::ctl {
namespace {

using namespace test_util;
using namespace std::string_literals;

constexpr const char* kSampleBody =
    R"({"closed":false,"dataplane":"connected","targets":[)"
    R"({"name":"api","kind":"static:cmd","state":"active","flows":3,"since":"2024-05-01T12:00:00Z",)"
    R"("endpoints":[{"name":"http","protocol":"tcp","address":"198.18.2.2:80",)"
    R"("addresses":["198.18.2.2:80","[2001:db8::2]:80"]},)"
    R"({"name":"dns","protocol":"udp","address":"198.18.2.2:53"}]},)"
    R"({"name":"web","kind":"static:cmd","state":"inactive","last_error":"backend exited: status 1",)"
    R"("flows":0,"since":"2024-05-01T12:01:30Z"}],)"
    R"("frontends":[{"name":"public","kind":"static:always","state":"running","protocol":"tcp",)"
    R"("listen":"[::]:80","target_name":"api","endpoint_name":"http","proxyaddress":"198.18.2.2:80",)"
    R"("proxyaddresses":["198.18.2.2:80","[2001:db8::2]:80"]},)"
    R"({"name":"dns","kind":"static:always","state":"stopped","last_error":"bind: address in use",)"
    R"("protocol":"udp","listen":"0.0.0.0:53","target_name":"api","endpoint_name":"dns",)"
    R"("proxyaddress":"198.18.2.2:53"}]})";

// The body error of the single packet `line`.
std::string BodyError(std::string_view line, Codec codec = Codec::kJson) {
  auto ps = DecodeAll(codec, line);
  if (ps.size() != 1) {
    ADD_FAILURE() << "expected one packet from: " << line;
    return "";
  }
  EXPECT_FALSE(ps[0].body.ok()) << line;
  if (ps[0].body.ok()) return "";
  EXPECT_TRUE(ps[0].body.status().IsInvalidArgument());
  return ps[0].body.status().message();
}

TEST(CtlProtocol, ParseCodecTrimsAndIgnoresCase) {
  EXPECT_EQ(ParseCodec("json"), Codec::kJson);
  EXPECT_EQ(ParseCodec(" CBOR\n"), Codec::kCbor);
  EXPECT_EQ(ParseCodec("Json"), Codec::kJson);
  EXPECT_EQ(ParseCodec(""), Codec::kJson);
  EXPECT_EQ(ParseCodec("  "), Codec::kJson);
  EXPECT_EQ(ParseCodec("msgpack"), std::nullopt);
  EXPECT_EQ(ParseCodec("js on"), std::nullopt);
}

TEST(CtlProtocol, MethodIdsAreTheOriginals) {
  for (std::uint64_t m = 0; m <= 21; ++m) EXPECT_TRUE(MethodFromWire(m).has_value()) << m;
  EXPECT_EQ(MethodFromWire(32768), Method::kFrontendShouldWarmNotification);
  EXPECT_EQ(MethodFromWire(22), std::nullopt);
  EXPECT_EQ(MethodFromWire(256), Method::kReloadRequest);  // our addition
  EXPECT_EQ(MethodFromWire(257), Method::kReloadResponse);
  EXPECT_EQ(MethodFromWire(258), Method::kRoleRequest);  // our addition
  EXPECT_EQ(MethodFromWire(259), Method::kRoleResponse);
  EXPECT_EQ(MethodFromWire(260), std::nullopt);
  EXPECT_TRUE(IsResponse(257));
  EXPECT_EQ(MethodFromWire(32769), std::nullopt);
  EXPECT_EQ(MethodFromWire(1ull << 40), std::nullopt);
  EXPECT_STREQ(MethodName(Method::kDrainTargetRequest), "DrainTargetRequest");
  EXPECT_TRUE(IsResponse(1));
  EXPECT_TRUE(IsResponse(3));
  EXPECT_FALSE(IsResponse(2));
  EXPECT_FALSE(IsResponse(32769));
  EXPECT_TRUE(IsNotification(32768));
  EXPECT_EQ(MethodOf(Body(WarmTargetRequest{"x"})), Method::kWarmTargetRequest);
}

TEST(CtlProtocol, EncodesStatusJsonInTheOriginalsShape) {
  EXPECT_EQ(EncodePacket(Codec::kJson, 7, SampleStatus()),
            std::string(R"({"id":7,"method":3,"body":)") + kSampleBody + "}\n");
}

TEST(CtlProtocol, EncodesTheOriginalsExampleByteForByte) {
  // Section 12.4's exchange: what the Go engine sent. Decoded and encoded
  // again, with none of the additions present, it is unchanged.
  const std::string original =
      R"({"id":1,"method":3,"body":{"closed":false,"targets":[{"name":"backend","kind":"static:cmd",)"
      R"("state":"inactive","endpoints":[{"name":"http","protocol":"tcp","address":"127.0.0.1:8080"}]}],)"
      R"("frontends":[{"name":"public-http","kind":"static:always","state":"running","protocol":"tcp",)"
      R"("listen":"0.0.0.0:8088","target_name":"backend","endpoint_name":"http",)"
      R"("proxyaddress":"127.0.0.1:8080"}]}})"
      "\n";
  auto ps = DecodeAll(Codec::kJson, original, kMaxResponseBytes);
  ASSERT_EQ(ps.size(), 1u);
  ASSERT_TRUE(ps[0].body.ok()) << ps[0].body.status().message();
  EXPECT_EQ(EncodePacket(Codec::kJson, ps[0].id, *ps[0].body), original);
  EXPECT_EQ(EncodePacket(Codec::kJson, 1, StatusRequest{}),
            "{\"id\":1,\"method\":2,\"body\":{}}\n");
}

TEST(CtlProtocol, EncodesStatusCborWithIntegerProtocols) {
  std::string bytes = EncodePacket(Codec::kCbor, 7, SampleStatus());
  auto j = nlohmann::ordered_json::from_cbor(bytes);
  // Same keys in the same order; only the protocols differ.
  std::string want = std::string(R"({"id":7,"method":3,"body":)") + kSampleBody + "}";
  for (auto [from, to] : {std::pair{R"("protocol":"tcp")", R"("protocol":6)"},
                          std::pair{R"("protocol":"udp")", R"("protocol":17)"}}) {
    for (auto pos = want.find(from); pos != std::string::npos; pos = want.find(from)) {
      want.replace(pos, std::string_view(from).size(), to);
    }
  }
  EXPECT_EQ(j.dump(), want);
  EXPECT_EQ(static_cast<unsigned char>(bytes[0]), 0xa3);  // a map of 3: id, method, body
}

TEST(CtlProtocol, PrettyStatusTextHasTextProtocolsAndNewline) {
  StatusResponse s;
  s.dataplane_connected = false;
  s.frontends = {{"f", "static:always", "running", "", Protocol::kUdp, "0.0.0.0:53", "t", "dns",
                  {"198.18.2.2:53"}}};
  EXPECT_EQ(StatusResponseText(s),
            "{\n"
            "  \"closed\": false,\n"
            "  \"dataplane\": \"disconnected\",\n"
            "  \"frontends\": [\n"
            "    {\n"
            "      \"name\": \"f\",\n"
            "      \"kind\": \"static:always\",\n"
            "      \"state\": \"running\",\n"
            "      \"protocol\": \"udp\",\n"
            "      \"listen\": \"0.0.0.0:53\",\n"
            "      \"target_name\": \"t\",\n"
            "      \"endpoint_name\": \"dns\",\n"
            "      \"proxyaddress\": \"198.18.2.2:53\"\n"
            "    }\n"
            "  ]\n"
            "}\n");
  EXPECT_EQ(StatusResponseText(StatusResponse{}), "{\n  \"closed\": false\n}\n");
}

TEST(CtlProtocol, EveryBodyRoundTripsInBothCodecs) {
  const std::vector<Body> bodies = {
      ErrorResponse{"no target named \"x\"", "not_found"},
      ErrorResponse{"unsupported method 4", ""},
      StatusRequest{},
      SampleStatus(),
      StatusResponse{},
      WarmTargetRequest{"web"},
      WarmTargetResponse{},
      DrainTargetRequest{"web"},
      DrainTargetResponse{},
      ReloadRequest{},
      ReloadResponse{true, {}, {{"c"}, {"b"}, {"x"}, {"a"}}, {{"fc"}, {}, {}, {"fa"}}, {"a"}},
      ReloadResponse{false, {"f.yaml:3:5: targets[0].kind: unknown"}, {}, {}, {}},
      ReloadResponse{},
      RoleRequest{common::HaRole::kBackup},
      RoleResponse{common::HaRole::kMaster, common::HaRole::kFault},
  };
  for (Codec codec : {Codec::kJson, Codec::kCbor}) {
    std::string stream;
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      stream += EncodePacket(codec, static_cast<std::uint32_t>(i + 1), bodies[i]);
    }
    auto ps = DecodeAll(codec, stream, kMaxResponseBytes);
    ASSERT_EQ(ps.size(), bodies.size()) << CodecName(codec);
    for (std::size_t i = 0; i < bodies.size(); ++i) {
      EXPECT_EQ(ps[i].id, i + 1);
      EXPECT_EQ(ps[i].method, static_cast<std::uint16_t>(MethodOf(bodies[i])));
      ASSERT_TRUE(ps[i].body.ok()) << ps[i].body.status().message();
      EXPECT_TRUE(*ps[i].body == bodies[i]) << CodecName(codec) << " body " << i;
    }
  }
}

TEST(CtlProtocol, MatchesKeysIgnoringCaseAndIgnoresUnknownKeys) {
  auto ps = DecodeAll(Codec::kJson,
                      R"({"ID":4,"Method":8,"BODY":{"Name":"web","extra":[1]},"x":null})");
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_EQ(ps[0].id, 4u);
  EXPECT_TRUE(*ps[0].body == Body(WarmTargetRequest{"web"}));
  // The exact key wins over a case-folded one.
  ps = DecodeAll(Codec::kJson, R"({"id":1,"method":8,"body":{"NAME":"a","name":"b"}})");
  ASSERT_EQ(ps.size(), 1u);
  EXPECT_TRUE(*ps[0].body == Body(WarmTargetRequest{"b"}));
}

TEST(CtlProtocol, UnsupportedAndUnknownMethodsKeepTheirIdAndAnyBody) {
  auto ps = DecodeAll(Codec::kJson,
                      R"({"id":1,"method":4,"body":null})"
                      R"({"id":2,"method":999})"
                      R"({"id":3,"method":32768,"body":{"name":5}})"
                      R"({"id":0,"method":0,"body":"x"})");
  ASSERT_EQ(ps.size(), 4u);
  EXPECT_EQ(ps[0].method, 4);
  EXPECT_EQ(ps[1].method, 999);
  EXPECT_EQ(ps[2].method, 32768);
  for (const auto& p : ps) {
    ASSERT_TRUE(p.body.ok()) << p.body.status().message();
    EXPECT_TRUE(std::holds_alternative<std::monostate>(*p.body));
  }
}

// B4: the original crashed the daemon on "body": null.
TEST(CtlProtocol, BadBodiesAreClearErrorsNotCrashes) {
  EXPECT_EQ(BodyError(R"({"id":1,"method":2,"body":null})"),
            "invalid StatusRequest: body is null; expected an object");
  EXPECT_EQ(BodyError(R"({"id":1,"method":2})"), "invalid StatusRequest: body is missing");
  EXPECT_EQ(BodyError(R"({"id":1,"method":2,"body":[]})"),
            "invalid StatusRequest: body: expected an object, got []");
  EXPECT_EQ(BodyError(R"({"id":1,"method":8,"body":"web"})"),
            "invalid WarmTargetRequest: body: expected an object, got \"web\"");
  EXPECT_EQ(BodyError(R"({"id":1,"method":8,"body":{}})"),
            "invalid WarmTargetRequest: body.name is missing");
  EXPECT_EQ(BodyError(R"({"id":1,"method":10,"body":{"name":7}})"),
            "invalid DrainTargetRequest: body.name: expected a string, got 7");
  EXPECT_EQ(BodyError(R"({"id":1,"method":10,"body":{"name":null}})"),
            "invalid DrainTargetRequest: body.name: expected a string, got null");
  EXPECT_EQ(BodyError(R"({"id":1,"method":1,"body":{"msg":false}})"),
            "invalid ErrorResponse: body.msg: expected a string, got false");
  EXPECT_EQ(BodyError(R"({"id":1,"method":3,"body":{"targets":[{"name":"a","flows":-1}]}})"),
            "invalid StatusResponse: body.targets[0].flows: expected an integer from 0 to "
            "4294967295, got -1");
  EXPECT_EQ(BodyError(R"({"id":1,"method":3,"body":{"frontends":[{"protocol":"sctp"}]}})"),
            "invalid StatusResponse: body.frontends[0].protocol: expected \"tcp\", \"udp\", 6 or "
            "17, got \"sctp\"");
  EXPECT_EQ(BodyError(R"({"id":1,"method":3,"body":{"targets":[{"since":"yesterday"}]}})"),
            "invalid StatusResponse: body.targets[0].since: expected an RFC 3339 time, got "
            "\"yesterday\"");
  EXPECT_EQ(BodyError(R"({"id":1,"method":3,"body":{"closed":"no"}})"),
            "invalid StatusResponse: body.closed: expected true or false, got \"no\"");
  EXPECT_EQ(BodyError(R"({"id":1,"method":3,"body":{"dataplane":1}})"),
            "invalid StatusResponse: body.dataplane: expected \"connected\" or \"disconnected\", "
            "got 1");
  EXPECT_EQ(BodyError(R"({"id":1,"method":3,"body":{"targets":[{"endpoints":[{"addresses":"a"}]}]}})"),
            "invalid StatusResponse: body.targets[0].endpoints[0].addresses: expected a list of "
            "strings, got \"a\"");
  EXPECT_EQ(BodyError(R"({"id":9})"), "invalid packet: method is missing");
  EXPECT_EQ(BodyError(R"({"id":9,"method":"status","body":{}})"),
            "invalid packet: method: expected an integer from 0 to 65535, got \"status\"");
  EXPECT_EQ(BodyError(R"({"id":9,"method":65536,"body":{}})"),
            "invalid packet: method: expected an integer from 0 to 65535, got 65536");
  EXPECT_EQ(BodyError(Cbor({{"id", 1}, {"method", 2}, {"body", nullptr}}), Codec::kCbor),
            "invalid StatusRequest: body is null; expected an object");
  EXPECT_EQ(BodyError(Cbor({{"id", 1}, {"method", 8}, {"body", {{"name", 1.5}}}}), Codec::kCbor),
            "invalid WarmTargetRequest: body.name: expected a string, got 1.5");
}

TEST(CtlProtocol, BodyErrorKeepsTheStreamUsable) {
  auto ps = DecodeAll(Codec::kJson, R"({"id":1,"method":2,"body":null})"
                                    R"({"id":2,"method":2,"body":{}})");
  ASSERT_EQ(ps.size(), 2u);
  EXPECT_EQ(ps[0].id, 1u);
  EXPECT_FALSE(ps[0].body.ok());
  EXPECT_TRUE(ps[1].body.ok());
}

TEST(CtlProtocol, AcceptsProtocolsInEitherForm) {
  auto ps = DecodeAll(Codec::kJson,
                      R"({"id":1,"method":3,"body":{"targets":[{"name":"t","endpoints":[)"
                      R"({"name":"a","protocol":17,"address":"x"},{"name":"b","protocol":"TCP"}]}]}})");
  ASSERT_EQ(ps.size(), 1u);
  ASSERT_TRUE(ps[0].body.ok()) << ps[0].body.status().message();
  const auto& t = std::get<StatusResponse>(*ps[0].body).targets.at(0);
  EXPECT_EQ(t.endpoints.at(0).protocol, Protocol::kUdp);
  EXPECT_EQ(t.endpoints.at(0).addresses, std::vector<std::string>{"x"});
  EXPECT_EQ(t.endpoints.at(1).protocol, Protocol::kTcp);
  EXPECT_TRUE(t.endpoints.at(1).addresses.empty());
  EXPECT_EQ(t.flows, std::nullopt);
  EXPECT_EQ(t.since, std::nullopt);
}

TEST(CtlProtocol, ErrorResponseCarriesTheStatusCode) {
  EXPECT_EQ(ErrorFrom(common::Status::NotFound("no target named \"x\"")),
            (ErrorResponse{"no target named \"x\"", "not_found"}));
  EXPECT_EQ(EncodePacket(Codec::kJson, 3, ErrorFrom(common::Status::Unavailable("closed"))),
            "{\"id\":3,\"method\":1,\"body\":{\"msg\":\"closed\",\"code\":\"unavailable\"}}\n");
  EXPECT_EQ(EncodePacket(Codec::kJson, 3, ErrorResponse{"unsupported method 4", ""}),
            "{\"id\":3,\"method\":1,\"body\":{\"msg\":\"unsupported method 4\"}}\n");
}

TEST(CtlProtocol, BadUtf8IsReplacedInJsonOutput) {
  EXPECT_EQ(EncodePacket(Codec::kJson, 1, ErrorResponse{"no target named \"\xff\"", ""}),
            "{\"id\":1,\"method\":1,\"body\":{\"msg\":\"no target named \\\"\xef\xbf\xbd\\\"\"}}\n");
}

TEST(CtlProtocol, FormatsAndParsesRfc3339) {
  EXPECT_EQ(FormatTime(At(kMay1)), "2024-05-01T12:00:00Z");
  EXPECT_EQ(FormatTime(At(0)), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatTime(At(kMay1) + std::chrono::milliseconds(999)), "2024-05-01T12:00:00Z");
  EXPECT_EQ(FormatTime(At(-1)), "1969-12-31T23:59:59Z");
  EXPECT_EQ(ParseTime("2024-05-01T12:00:00Z"), At(kMay1));
  EXPECT_EQ(ParseTime("2024-05-01t14:30:00+02:30"), At(kMay1));
  EXPECT_EQ(ParseTime("2024-05-01T11:00:00-01:00"), At(kMay1));
  EXPECT_EQ(ParseTime("2024-05-01T12:00:00.5Z"), At(kMay1) + std::chrono::milliseconds(500));
  EXPECT_EQ(ParseTime("2024-02-29T00:00:00Z"), At(1709164800));
  for (const char* bad : {"", "2024-05-01", "2024-05-01 12:00:00Z", "2024-05-01T12:00:00",
                          "2023-02-29T00:00:00Z", "2024-05-01T24:00:00Z", "2024-05-01T12:00:60Z",
                          "2024-05-01T12:00:00.Z", "2024-05-01T12:00:00+0200", "9999-01-01T00:00:00Z",
                          "2024-05-01T12:00:00Zx", "2024-13-01T12:00:00Z"}) {
    EXPECT_EQ(ParseTime(bad), std::nullopt) << bad;
  }
}


TEST(CtlProtocol, ReloadResponseJsonShape) {
  ReloadResponse r{true, {}, {{"c"}, {"b"}, {}, {"a"}}, {{}, {}, {"fa"}, {}}, {"a"}};
  EXPECT_EQ(EncodePacket(Codec::kJson, 3, r),
            R"({"id":3,"method":257,"body":{"applied":true,"targets":{"added":["c"],)"
            R"("removed":["b"],"unchanged":["a"]},"frontends":{"changed":["fa"]},)"
            R"("remapped":["a"]}})"
            "\n");
  EXPECT_EQ(EncodePacket(Codec::kJson, 4, ReloadResponse{false, {"e1"}, {}, {}, {}}),
            R"({"id":4,"method":257,"body":{"applied":false,"errors":["e1"]}})"
            "\n");
}

TEST(CtlProtocol, ReloadResponseTextListsThePlanOrTheErrors) {
  ReloadResponse r{true, {}, {{"c"}, {"b"}, {}, {"a"}}, {{"f1", "f2"}, {}, {}, {}}, {"a"}};
  EXPECT_EQ(ReloadResponseText(r),
            "targets added: c\n"
            "targets removed: b\n"
            "targets unchanged: a\n"
            "frontends added: f1, f2\n"
            "targets remapped: a\n");
  EXPECT_EQ(ReloadResponseText(ReloadResponse{true, {}, {}, {}, {}}), "nothing to change\n");
  EXPECT_EQ(ReloadResponseText(ReloadResponse{false, {"e1", "e2"}, {}, {}, {}}), "e1\ne2\n");
}

TEST(CtlProtocol, BadReloadResponsesNameTheField) {
  EXPECT_EQ(BodyError(R"({"id":1,"method":257,"body":{"applied":"yes"}})"),
            "invalid ReloadResponse: body.applied: expected true or false, got \"yes\"");
  EXPECT_EQ(BodyError(R"({"id":1,"method":257,"body":{"targets":[]}})"),
            "invalid ReloadResponse: body.targets: expected an object, got []");
  EXPECT_EQ(BodyError(R"({"id":1,"method":257,"body":{"frontends":{"added":[1]}}})"),
            "invalid ReloadResponse: body.frontends.added[0]: expected a string, got 1");
  EXPECT_EQ(BodyError(R"({"id":1,"method":257,"body":{"errors":"x"}})"),
            "invalid ReloadResponse: body.errors: expected a list of strings, got \"x\"");
}

TEST(CtlProtocol, RoleRequestAndResponseJsonShape) {
  EXPECT_EQ(EncodePacket(Codec::kJson, 2, RoleRequest{common::HaRole::kFault}),
            R"({"id":2,"method":258,"body":{"role":"fault"}})"
            "\n");
  EXPECT_EQ(EncodePacket(Codec::kJson, 2,
                         RoleResponse{common::HaRole::kMaster, common::HaRole::kBackup}),
            R"({"id":2,"method":259,"body":{"role":"master","previous":"backup"}})"
            "\n");
}

TEST(CtlProtocol, BadRoleRequestsNameTheField) {
  EXPECT_EQ(BodyError(R"({"id":1,"method":258,"body":{"role":"Master"}})"),
            "invalid RoleRequest: body.role: expected \"master\", \"backup\" or \"fault\", got "
            "\"Master\"");
  EXPECT_EQ(BodyError(R"({"id":1,"method":258,"body":{}})"),
            "invalid RoleRequest: body.role is missing");
  EXPECT_EQ(BodyError(R"({"id":1,"method":258,"body":{"role":1}})"),
            "invalid RoleRequest: body.role: expected a string, got 1");
  EXPECT_EQ(BodyError(R"({"id":1,"method":259,"body":{"role":"master"}})"),
            "invalid RoleResponse: body.previous is missing");
}

TEST(CtlProtocol, StatusCarriesTheRoleAndEachTargetsFollowing) {
  StatusResponse s;
  s.role = "backup";
  TargetStatus t;
  t.name = "vm";
  t.state = "inactive";
  t.follow = "live";
  s.targets = {t};
  EXPECT_EQ(EncodePacket(Codec::kJson, 1, s),
            R"({"id":1,"method":3,"body":{"closed":false,"role":"backup","targets":[)"
            R"({"name":"vm","kind":"","state":"inactive","follow":"live"}]}})"
            "\n");
}

}  // namespace
}  // namespace ipc::ctl
