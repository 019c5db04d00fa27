// static:hold against the engine's fake dataplane: the holds it sets from its
// options, and what it does on a knock, a failed warm and a stop.
#include "plugins/static/hold_frontend.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "proxygw-engine/testing/fakes.h"

namespace plugins::static_ns {
namespace {

using common::Status;
using ipc::netd::Hold;
using ipc::netd::MappingKey;
using ipc::netd::Proto;

MappingKey Key(const char* listen) {
  auto a = *common::AddrPort::Parse(listen);
  return MappingKey{Proto::kTcp, a.address, a.port};
}

ipc::netd::Prefix P(const char* addr, std::uint8_t len) {
  return ipc::netd::Prefix{*common::IpAddress::Parse(addr), len};
}

class HoldFrontendTest : public ::testing::Test {
 protected:
  // A static:hold frontend with `options` (YAML) on the keys of a [::] listen.
  std::unique_ptr<engine::FrontendHandler> Make(const std::string& options) {
    cfg_.name = "game";
    cfg_.options.node = YAML::Load(options);
    cfg_.options.path = "frontends[0].options";
    target_.ready_timeout_s = 600;
    engine::FrontendContext ctx{io_, cfg_, engine::Logger(), [] {}};
    ctx.dataplane = &dp_;
    ctx.keys = {Key("0.0.0.0:25565"), Key("[::]:25565")};
    ctx.target = &target_;
    config::ErrorSink sink("test.yaml", &errors_);
    return NewHoldFrontend(ctx, sink);
  }
  Status Start(engine::FrontendHandler& h) {
    Status out = Status::Internal("not done");
    h.Start([&](Status st) { out = st; });
    return out;
  }

  boost::asio::io_context io_;
  config::Frontend cfg_;
  config::Target target_;
  engine::testing::FakeDataplane dp_;
  std::vector<config::ConfigError> errors_;
};

TEST_F(HoldFrontendTest, HoldsEveryKeyForTheTargetsReadyTimeoutCappedAtFiveMinutes) {
  auto h = Make("{}");
  ASSERT_NE(h, nullptr);
  EXPECT_TRUE(dp_.holds.empty()) << "nothing is set before Start";
  ASSERT_TRUE(Start(*h).ok());
  EXPECT_EQ(dp_.holds["game"], (std::vector<Hold>{{Key("0.0.0.0:25565"), 300, {}},
                                                   {Key("[::]:25565"), 300, {}}}));
}

TEST_F(HoldFrontendTest, SplitsAllowByFamilyAndHoldsNoKeyOfAFamilyItLeavesOut) {
  auto h = Make("{allow: ['198.18.1.0/24', 198.19.0.7], hold: 90s}");
  ASSERT_NE(h, nullptr);
  ASSERT_TRUE(Start(*h).ok());
  // No IPv6 prefix: IPv6 clients may not wake it, so no IPv6 key is held.
  EXPECT_EQ(dp_.holds["game"],
            (std::vector<Hold>{{Key("0.0.0.0:25565"), 90, {P("198.18.1.0", 24), P("198.19.0.7", 32)}}}));
}

TEST_F(HoldFrontendTest, AKnockAsksForAWarmAndIsCounted) {
  auto h = Make("{}");
  ASSERT_TRUE(Start(*h).ok());
  EXPECT_EQ(h->KnockStats()->count, 0u);
  ipc::netd::KnockPush k{Key("0.0.0.0:25565"), *common::IpAddress::Parse("198.18.1.2"), 1};
  EXPECT_TRUE(h->OnKnock(k));
  EXPECT_TRUE(h->OnKnock(k));
  EXPECT_EQ(h->KnockStats()->count, 2u);
  EXPECT_EQ(h->KnockStats()->last_source, "198.18.1.2");
}

TEST_F(HoldFrontendTest, AFailedTargetReleasesWhatIsHeldAndStopClearsTheHolds) {
  auto h = Make("{}");
  ASSERT_TRUE(Start(*h).ok());
  dp_.calls.clear();
  h->OnTargetFailed();
  EXPECT_EQ(dp_.calls, (std::vector<std::string>{"release tcp 0.0.0.0:25565", "release tcp [::]:25565"}));
  Status stopped = Status::Internal("not done");
  h->Stop([&](Status st) { stopped = st; });
  EXPECT_TRUE(stopped.ok());
  EXPECT_TRUE(dp_.holds.empty());
  ipc::netd::KnockPush k{Key("0.0.0.0:25565"), *common::IpAddress::Parse("198.18.1.2"), 1};
  EXPECT_FALSE(h->OnKnock(k)) << "a stopped frontend wakes nothing";
}

TEST_F(HoldFrontendTest, AHoldTheDataplaneRefusesFailsTheStart) {
  auto h = Make("{}");
  dp_.holds_result = Status::InvalidArgument("hold of tcp 0.0.0.0:25565: held by other");
  EXPECT_EQ(Start(*h).message(), "hold of tcp 0.0.0.0:25565: held by other");
}

}  // namespace
}  // namespace plugins::static_ns
