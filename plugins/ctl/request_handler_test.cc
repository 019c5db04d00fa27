#include "plugins/ctl/request_handler.h"

#include <gtest/gtest.h>

#include "plugins/ctl/fake_control.h"

namespace ctl_plugin {
namespace {

namespace wire = ipc::ctl;

wire::Packet Request(std::uint32_t id, wire::Body body) {
  wire::Packet p;
  p.id = id;
  p.method = static_cast<std::uint16_t>(wire::MethodOf(body));
  p.body = std::move(body);
  return p;
}

wire::Packet Raw(std::uint32_t id, std::uint16_t method) {
  wire::Packet p;
  p.id = id;
  p.method = method;
  return p;
}

wire::ErrorResponse ErrorOf(const std::optional<wire::Body>& b) {
  EXPECT_TRUE(b.has_value());
  if (!b) return {};
  const auto* e = std::get_if<wire::ErrorResponse>(&*b);
  EXPECT_NE(e, nullptr);
  return e != nullptr ? *e : wire::ErrorResponse{};
}

TEST(CtlRequestHandler, StatusIsSortedAndCarriesTheAdditions) {
  FakeControl control;
  auto r = Respond(control, Request(1, wire::StatusRequest{}));
  ASSERT_TRUE(r.has_value());
  const auto& s = std::get<wire::StatusResponse>(*r);
  EXPECT_FALSE(s.closed);
  EXPECT_EQ(s.dataplane_connected, true);
  ASSERT_EQ(s.targets.size(), 2u);
  EXPECT_EQ(s.targets[0].name, "api");
  EXPECT_EQ(s.targets[0].flows, 3u);
  EXPECT_EQ(wire::FormatTime(*s.targets[0].since), "2024-05-01T12:00:00Z");
  ASSERT_EQ(s.targets[0].endpoints.size(), 2u);
  EXPECT_EQ(s.targets[0].endpoints[0].name, "dns");
  EXPECT_EQ(s.targets[0].endpoints[0].protocol, wire::Protocol::kUdp);
  EXPECT_EQ(s.targets[0].endpoints[1].addresses,
            (std::vector<std::string>{"198.18.2.2:80", "[2001:db8::2]:80"}));
  EXPECT_EQ(s.targets[1].name, "web");
  EXPECT_EQ(s.targets[1].last_error, "backend exited: status 1");
  ASSERT_EQ(s.frontends.size(), 2u);
  EXPECT_EQ(s.frontends[0].name, "dns");
  EXPECT_EQ(s.frontends[1].name, "public");
  EXPECT_EQ(s.frontends[1].proxy_addresses.size(), 2u);
}

TEST(CtlRequestHandler, RoleGoesToTheEngineAndAnswersTheRoleBefore) {
  FakeControl control;
  auto r = Respond(control, Request(4, wire::RoleRequest{common::HaRole::kBackup}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(std::get<wire::RoleResponse>(*r),
            (wire::RoleResponse{common::HaRole::kBackup, common::HaRole::kMaster}));
  EXPECT_EQ(control.calls(), std::vector<std::string>{"role backup"});
}

TEST(CtlRequestHandler, StatusCarriesTheRoleAndFollowing) {
  engine::StatusSnapshot snap = SampleSnapshot();
  snap.role = "backup";
  snap.targets[0].follow = "live";
  FakeControl control(snap);
  auto r = Respond(control, Request(1, wire::StatusRequest{}));
  ASSERT_TRUE(r.has_value());
  const auto& s = std::get<wire::StatusResponse>(*r);
  EXPECT_EQ(s.role, "backup");
  EXPECT_EQ(s.targets[1].name, "web");
  EXPECT_EQ(s.targets[1].follow, "live");
}

TEST(CtlRequestHandler, DisconnectedAndClosedEngine) {
  engine::StatusSnapshot snap;
  snap.closed = true;
  FakeControl control(snap);
  auto r = Respond(control, Request(1, wire::StatusRequest{}));
  ASSERT_TRUE(r.has_value());
  EXPECT_EQ(wire::EncodePacket(wire::Codec::kJson, 1, *r),
            "{\"id\":1,\"method\":3,\"body\":{\"closed\":true,\"dataplane\":\"disconnected\"}}\n");
}

TEST(CtlRequestHandler, WarmAndDrainCallTheEngine) {
  FakeControl control;
  auto w = Respond(control, Request(1, wire::WarmTargetRequest{"web"}));
  ASSERT_TRUE(w.has_value());
  EXPECT_TRUE(std::holds_alternative<wire::WarmTargetResponse>(*w));
  auto d = Respond(control, Request(2, wire::DrainTargetRequest{"api"}));
  ASSERT_TRUE(d.has_value());
  EXPECT_TRUE(std::holds_alternative<wire::DrainTargetResponse>(*d));
  EXPECT_EQ(control.calls(), (std::vector<std::string>{"warm web", "drain api"}));
}

TEST(CtlRequestHandler, EngineRefusalsBecomeErrorResponses) {
  FakeControl control;
  EXPECT_EQ(ErrorOf(Respond(control, Request(1, wire::WarmTargetRequest{"nope"}))),
            (wire::ErrorResponse{"no target named \"nope\"", "not_found"}));
  control.snapshot().targets[0].state = "closed";  // web
  EXPECT_EQ(ErrorOf(Respond(control, Request(2, wire::DrainTargetRequest{"web"}))),
            (wire::ErrorResponse{"target \"web\" is closed; it cannot drain", "unavailable"}));
  EXPECT_TRUE(control.calls().empty());
}

TEST(CtlRequestHandler, UnsupportedMethods) {
  FakeControl control;
  for (std::uint16_t m : {0, 4, 6, 12, 14, 16, 18, 20, 22, 1000, 32768, 40000}) {
    EXPECT_EQ(ErrorOf(Respond(control, Raw(5, m))).msg, "unsupported method " + std::to_string(m));
  }
}

TEST(CtlRequestHandler, ResponsesAndNotificationsGetNoAnswer) {
  FakeControl control;
  for (std::uint16_t m : {1, 3, 5, 9, 11, 21}) EXPECT_FALSE(Respond(control, Raw(5, m))) << m;
  EXPECT_FALSE(Respond(control, Request(0, wire::StatusRequest{})));
  EXPECT_FALSE(Respond(control, Request(0, wire::WarmTargetRequest{"web"})));
  EXPECT_TRUE(control.calls().empty());
}

TEST(CtlRequestHandler, BodyErrorsAreAnswered) {
  FakeControl control;
  wire::Packet p = Raw(3, 8);
  p.body = common::Status::InvalidArgument("invalid WarmTargetRequest: body is null; expected an object");
  EXPECT_EQ(ErrorOf(Respond(control, p)),
            (wire::ErrorResponse{"invalid WarmTargetRequest: body is null; expected an object",
                                 "invalid_argument"}));
}

}  // namespace
}  // namespace ctl_plugin
