// NetdConnection against a fake netd on a real socket: replies reach their
// callbacks, and every way the connection ends (refusal, silence, Close)
// fails what is pending, once.
#include "proxygw-engine/netd_connection.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>

#include "proxygw-engine/testing/fake_netd.h"
#include "proxygw-engine/testing/loop.h"

namespace engine {
namespace {

using common::Result;
using common::Status;
using ipc::netd::NetdMessage;
using std::chrono::milliseconds;
using testing::FakeNetd;

class NetdConnectionTest : public ::testing::Test {
 protected:
  std::unique_ptr<NetdConnection> Open(milliseconds timeout = milliseconds(300)) {
    NetdConnection::Handlers h;
    h.push = [this](const ipc::netd::FlowCountsPush& p) { pushes_.push_back(p); };
    h.ended = [this](const std::string& why) { ended_.push_back(why); };
    auto c = NetdConnection::Open(io_, netd_.path, timeout, std::move(h));
    EXPECT_TRUE(c.ok()) << c.status().message();
    return c.ok() ? std::move(c).value() : nullptr;
  }
  // Sends `body`; its reply lands in `replies_`.
  void Send(NetdConnection& c, ipc::netd::RequestBody body) {
    c.Send(std::move(body), [this](Result<NetdMessage> r) { replies_.push_back(r.status()); });
  }
  template <class P>
  bool RunUntil(P pred) {
    return testing::RunUntil(io_, pred, milliseconds(5000));
  }

  boost::asio::io_context io_;
  FakeNetd netd_{io_};
  std::vector<Status> replies_;
  std::vector<std::string> ended_;
  std::vector<ipc::netd::FlowCountsPush> pushes_;
};

TEST_F(NetdConnectionTest, RepliesReachTheirCallbacksAndPushesTheHandler) {
  auto c = Open();
  Send(*c, ipc::netd::HelloRequest{});
  Send(*c, ipc::netd::SubscribeRequest{});
  ASSERT_TRUE(RunUntil([&] { return replies_.size() == 2 && pushes_.size() == 1; }));
  EXPECT_TRUE(replies_[0].ok() && replies_[1].ok());
  EXPECT_TRUE(pushes_[0].reset) << "the snapshot";
  EXPECT_TRUE(ended_.empty());
}

TEST_F(NetdConnectionTest, ARefusalEndsItWithNetdsReason) {
  netd_.reject = ipc::netd::ErrorCode::kBusy;
  auto c = Open();
  Send(*c, ipc::netd::HelloRequest{});
  ASSERT_TRUE(RunUntil([&] { return !ended_.empty() && !replies_.empty(); }));
  EXPECT_EQ(ended_, std::vector<std::string>{"refused by netd: busy: refused"});
  EXPECT_EQ(replies_[0].message(), "netd connection lost: refused by netd: busy: refused");
}

TEST_F(NetdConnectionTest, ARequestNotAnsweredInTimeEndsItAndFailsWhatIsPending) {
  netd_.answer = false;
  auto c = Open(milliseconds(200));
  Send(*c, ipc::netd::HelloRequest{});
  Send(*c, ipc::netd::SubscribeRequest{});
  ASSERT_TRUE(RunUntil([&] { return replies_.size() == 2; }));
  EXPECT_EQ(ended_, std::vector<std::string>{"netd did not answer hello within 200 ms"});
  EXPECT_EQ(replies_[1].message(), "netd connection lost: netd did not answer hello within 200 ms");
  Send(*c, ipc::netd::HelloRequest{});  // after the end: fails at once
  EXPECT_EQ(replies_.size(), 3u);
}

TEST_F(NetdConnectionTest, AnAwaitedPushThatDoesNotComeEndsIt) {
  netd_.snapshot = false;
  auto c = Open(milliseconds(200));
  Send(*c, ipc::netd::HelloRequest{});
  ASSERT_TRUE(RunUntil([&] { return replies_.size() == 1; }));
  c->AwaitPush("its flow snapshot");
  ASSERT_TRUE(RunUntil([&] { return !ended_.empty(); }));
  EXPECT_EQ(ended_, std::vector<std::string>{"netd did not send its flow snapshot within 200 ms"});
}

TEST_F(NetdConnectionTest, CloseFailsWhatIsPendingWithoutEnded) {
  netd_.answer = false;
  auto c = Open();
  Send(*c, ipc::netd::HelloRequest{});
  c->Close("dataplane stopped");
  EXPECT_EQ(replies_.size(), 1u);
  EXPECT_EQ(replies_[0].message(), "netd connection lost: dataplane stopped");
  testing::RunFor(io_, milliseconds(400));
  EXPECT_TRUE(ended_.empty());
}

}  // namespace
}  // namespace engine
