// ForwardingSwitch against the fake dataplane, with requests completed in the
// orders that broke "inactive implies forwarding off".
#include "proxygw-engine/forwarding_switch.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "proxygw-engine/testing/fakes.h"
#include "proxygw-engine/testing/loop.h"

namespace engine {
namespace {

using common::Status;
using std::chrono::milliseconds;
using testing::FakeDataplane;

class ForwardingSwitchTest : public ::testing::Test {
 protected:
  ForwardingSwitchTest()
      : switch_(io_, dp_, "web", {testing::TcpMapping("198.18.0.1:80", "198.18.2.2:80")},
                [this](bool on, const Status& why) {
                  retrying_.push_back((on ? "on: " : "off: ") + why.message());
                }) {}
  void RunFor(milliseconds d) { testing::RunFor(io_, d); }
  // A Done that records its result in `*out`.
  static Done Into(std::optional<Status>* out) {
    return [out](Status st) { *out = st; };
  }

  boost::asio::io_context io_;
  FakeDataplane dp_;
  std::vector<std::string> retrying_;
  ForwardingSwitch switch_;
};

TEST_F(ForwardingSwitchTest, SwitchesOnThenOffAndFlushes) {
  std::optional<Status> on, off;
  switch_.SwitchOn(Into(&on));
  ASSERT_TRUE(on && on->ok());
  EXPECT_FALSE(switch_.off());
  switch_.SwitchOff(Into(&off));
  ASSERT_TRUE(off && off->ok());
  EXPECT_TRUE(switch_.off());
  EXPECT_EQ(dp_.calls, (std::vector<std::string>{"enable web", "disable web", "flush 1"}));
  EXPECT_TRUE(dp_.enabled.empty());
}

TEST_F(ForwardingSwitchTest, NothingOnIsOffAtOnce) {
  std::optional<Status> off;
  switch_.SwitchOff(Into(&off));
  ASSERT_TRUE(off && off->ok());
  EXPECT_TRUE(dp_.calls.empty());
}

TEST_F(ForwardingSwitchTest, AnEnableCompletingAfterTheSwitchOffIsSwitchedOffAgain) {
  // Issue 11 item 2: an Enable in flight when the backend exited completed
  // into an inactive target, and its mapping stayed on.
  dp_.async = true;
  std::optional<Status> on, off;
  switch_.SwitchOn(Into(&on));
  switch_.SwitchOff(Into(&off));
  EXPECT_EQ(dp_.calls, std::vector<std::string>{"enable web"}) << "one request at a time";
  ASSERT_TRUE(dp_.Complete("enable web"));
  EXPECT_FALSE(on) << "the switch-on was replaced";
  EXPECT_FALSE(off);
  ASSERT_TRUE(dp_.Complete("disable web"));
  ASSERT_TRUE(dp_.Complete("flush 1"));
  ASSERT_TRUE(off && off->ok());
  EXPECT_TRUE(dp_.enabled.empty());
  EXPECT_TRUE(switch_.off());
}

TEST_F(ForwardingSwitchTest, AFailedDisableIsRetriedUntilForwardingIsOff) {
  // Issue 11 item 2: a failed Disable was only logged; the mapping stayed
  // desired, and the next resync put it back on for a dead backend.
  std::optional<Status> on, off;
  switch_.SwitchOn(Into(&on));
  dp_.disable_result = Status::Unavailable("not connected to proxygw-netd");
  switch_.SwitchOff(Into(&off));
  EXPECT_FALSE(off);
  EXPECT_EQ(retrying_, std::vector<std::string>{"off: not connected to proxygw-netd"});
  dp_.disable_result = Status::Ok();
  RunFor(milliseconds(1300));
  ASSERT_TRUE(off && off->ok());
  EXPECT_EQ(dp_.calls,
            (std::vector<std::string>{"enable web", "disable web", "disable web", "flush 1"}));
  EXPECT_TRUE(dp_.enabled.empty());
}

TEST_F(ForwardingSwitchTest, AFailedFlushIsRetriedAndOneNetdForgotIsDone) {
  std::optional<Status> on, off;
  switch_.SwitchOn(Into(&on));
  dp_.flush_result = Status::Unavailable("not connected to proxygw-netd");
  switch_.SwitchOff(Into(&off));
  EXPECT_FALSE(off);
  EXPECT_FALSE(switch_.off()) << "flows left to flush";
  dp_.flush_result = Status::NotFound("netd: not-installed: tcp 198.18.0.1:80");
  switch_.OnReconnected();
  RunFor(milliseconds(50));
  ASSERT_TRUE(off && off->ok());
  EXPECT_EQ(dp_.calls,
            (std::vector<std::string>{"enable web", "disable web", "flush 1", "flush 1"}));
}

TEST_F(ForwardingSwitchTest, AReconnectRunsAWaitingRetryAtOnceButOnlyOnce) {
  dp_.enable_result = Status::Unavailable("not connected to proxygw-netd");
  std::optional<Status> on;
  switch_.SwitchOn(Into(&on));
  EXPECT_EQ(dp_.calls.size(), 1u);
  switch_.OnReconnected();
  RunFor(milliseconds(50));
  EXPECT_EQ(dp_.calls.size(), 2u) << "the reconnect ran the retry at once";
  RunFor(milliseconds(800));
  EXPECT_EQ(dp_.calls.size(), 2u) << "then it waits its back-off (2 s now)";
  EXPECT_FALSE(on);
}

TEST_F(ForwardingSwitchTest, ARefusedEnableEndsTheSwitchOnAndIsNotRetried) {
  dp_.enable_result = Status::InvalidArgument("2 mappings; the limit is 1");
  std::optional<Status> on, off;
  switch_.SwitchOn(Into(&on));
  ASSERT_TRUE(on);
  EXPECT_EQ(on->message(), "2 mappings; the limit is 1");
  switch_.OnReconnected();
  RunFor(milliseconds(1200));
  EXPECT_EQ(dp_.calls, std::vector<std::string>{"enable web"});
  EXPECT_TRUE(switch_.off());
  switch_.SwitchOff(Into(&off));
  EXPECT_TRUE(off && off->ok());
}

TEST_F(ForwardingSwitchTest, SwitchOffOnceEndsAtTheFirstFailure) {
  std::optional<Status> on, off;
  switch_.SwitchOn(Into(&on));
  dp_.disable_result = Status::Unavailable("not connected to proxygw-netd");
  switch_.SwitchOff(Into(&off), /*once=*/true);
  ASSERT_TRUE(off);
  EXPECT_EQ(off->message(), "not connected to proxygw-netd");
  EXPECT_TRUE(retrying_.empty());
}

TEST_F(ForwardingSwitchTest, MappingsASyncDroppedStillHaveTheirFlowsFlushed) {
  switch_.AssumeOn();
  switch_.Dropped();
  std::optional<Status> off;
  switch_.SwitchOff(Into(&off));
  ASSERT_TRUE(off && off->ok());
  EXPECT_EQ(dp_.calls, std::vector<std::string>{"flush 1"});
}

}  // namespace
}  // namespace engine
