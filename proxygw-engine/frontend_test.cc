// The frontend state machine: intents 23-25 of the original's tests, and its
// stuck-after-error bug fixed (B5).
#include "proxygw-engine/frontend.h"

#include <gtest/gtest.h>

#include "proxygw-engine/config/loader.h"
#include "proxygw-engine/testing/fakes.h"

namespace engine {
namespace {

using common::Status;
using testing::ScriptedFrontend;

class FrontendTest : public ::testing::Test {
 protected:
  FrontendTest() {
    auto r = config::LoadConfigString(
        "version: v1\nlog: {output: stderr}\nplugins: {}\n"
        "targets: [{name: backend, kind: 'test:target', idle_timeout: 30s, endpoints: "
        "[{name: http, protocol: tcp, address: '127.0.0.2:8080'}]}]\n"
        "frontends: [{name: listener, kind: 'test:frontend', listen: '127.0.0.1:8080', "
        "flow_timeout: 15s, target: 'backend:http'}]\n",
        "t.yaml");
    cfg_ = *r.config;
    fe_ = std::make_unique<Frontend>(cfg_.frontends[0], Logger());
    fe_->SetHandler(std::make_unique<ScriptedFrontend>(&script_));
  }
  config::Config cfg_;
  ScriptedFrontend::Script script_;
  std::unique_ptr<Frontend> fe_;
};

TEST_F(FrontendTest, StartsAndStops) {
  EXPECT_EQ(fe_->state(), FrontendState::kStopped);
  ASSERT_TRUE(fe_->Start().ok());
  EXPECT_EQ(fe_->state(), FrontendState::kRunning);
  ASSERT_TRUE(fe_->Stop().ok());
  EXPECT_EQ(fe_->state(), FrontendState::kStopped);
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"start", "stop"}));
}

TEST_F(FrontendTest, AFailedStartReturnsToStoppedAndCanStartAgain) {
  // B5: the original was stuck in stopping.
  script_.result = Status::IoError("listen on 0.0.0.0:80: Permission denied");
  Status got;
  ASSERT_TRUE(fe_->Start([&](Status st) { got = st; }).ok());
  EXPECT_EQ(fe_->state(), FrontendState::kStopped);
  EXPECT_EQ(fe_->last_error(), "start failed: listen on 0.0.0.0:80: Permission denied");
  EXPECT_FALSE(got.ok());
  script_.result = Status::Ok();
  ASSERT_TRUE(fe_->Start().ok());
  EXPECT_EQ(fe_->state(), FrontendState::kRunning);
  EXPECT_TRUE(fe_->last_error().empty());
}

TEST_F(FrontendTest, AFailedStopReturnsToRunning) {
  ASSERT_TRUE(fe_->Start().ok());
  script_.result = Status::IoError("stop failed somehow");
  ASSERT_TRUE(fe_->Stop().ok());
  EXPECT_EQ(fe_->state(), FrontendState::kRunning);
  EXPECT_EQ(fe_->last_error(), "stop failed: stop failed somehow");
}

TEST_F(FrontendTest, RequestsRefusedInTheWrongState) {
  script_.auto_complete = false;
  ASSERT_TRUE(fe_->Start().ok());
  EXPECT_EQ(fe_->Stop().message(), "frontend listener is starting");
  script_.Complete();
  script_.auto_complete = false;
  ASSERT_TRUE(fe_->Stop().ok());
  EXPECT_EQ(fe_->Start().message(), "frontend listener is stopping");
}

TEST_F(FrontendTest, CloseDoesNotWaitAndRefusesLaterRequests) {
  // Intent 23.
  ASSERT_TRUE(fe_->Start().ok());
  fe_->Close();
  EXPECT_EQ(fe_->state(), FrontendState::kClosed);
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"start", "close"}));
  EXPECT_EQ(fe_->Start().message(), "frontend listener is closed");
  EXPECT_EQ(fe_->Stop().message(), "frontend listener is closed");
}

TEST_F(FrontendTest, CloseDuringABlockedStartClosesAfterItReturns) {
  // Intent 24.
  script_.auto_complete = false;
  ASSERT_TRUE(fe_->Start().ok());
  bool closed = false;
  fe_->Close([&] { closed = true; });
  EXPECT_EQ(fe_->state(), FrontendState::kClosed);
  EXPECT_EQ(script_.calls, std::vector<std::string>{"start"});
  EXPECT_FALSE(closed) << "the handler is still starting";
  script_.Complete();
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"start", "close"}));
  EXPECT_TRUE(closed);
  EXPECT_EQ(fe_->state(), FrontendState::kClosed);
}

TEST_F(FrontendTest, CloseSaysWhenTheHandlerIsClosed) {
  // A config reload destroys a removed frontend once it is closed.
  ASSERT_TRUE(fe_->Start().ok());
  bool closed = false;
  fe_->Close([&] { closed = true; });
  EXPECT_TRUE(closed);
  bool again = false;
  fe_->Close([&] { again = true; });
  EXPECT_TRUE(again) << "closed already";
}

TEST_F(FrontendTest, CloseDuringABlockedStopClosesAfterItReturns) {
  // Intent 25.
  ASSERT_TRUE(fe_->Start().ok());
  script_.auto_complete = false;
  ASSERT_TRUE(fe_->Stop().ok());
  fe_->Close();
  EXPECT_EQ(fe_->state(), FrontendState::kClosed);
  script_.Complete(Status::IoError("late"));
  EXPECT_EQ(script_.calls, (std::vector<std::string>{"start", "stop", "close"}));
  EXPECT_EQ(fe_->state(), FrontendState::kClosed);
  EXPECT_TRUE(fe_->last_error().empty());
}

}  // namespace
}  // namespace engine
