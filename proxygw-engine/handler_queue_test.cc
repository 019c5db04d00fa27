// HandlerQueue: one handler call at a time, in order, each continuation
// before the next call.
#include "proxygw-engine/handler_queue.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxygw-engine/testing/fakes.h"

namespace engine {
namespace {

using common::Status;
using testing::CallScript;

TEST(HandlerQueue, StartsACallOnlyAfterTheOneBeforeCompleted) {
  CallScript script;
  script.auto_complete = false;
  HandlerQueue q;
  std::vector<std::string> log;
  q.Push([&](Done d) { script.Call("drain", std::move(d)); },
         [&](Status) { log.push_back("drained"); });
  q.Push([&](Done d) { script.Call("warm", std::move(d)); },
         [&](Status) { log.push_back("warmed"); });
  EXPECT_EQ(script.calls, std::vector<std::string>{"drain"});
  EXPECT_TRUE(q.busy());
  EXPECT_EQ(q.size(), 2u);
  script.Complete();
  EXPECT_EQ(log, std::vector<std::string>{"drained"});
  EXPECT_EQ(script.calls, (std::vector<std::string>{"drain", "warm"}));
  script.Complete(Status::IoError("x"));
  EXPECT_EQ(log, (std::vector<std::string>{"drained", "warmed"}));
  EXPECT_FALSE(q.busy());
  EXPECT_EQ(q.size(), 0u);
}

TEST(HandlerQueue, ContinuationRunsBeforeTheNextCallStarts) {
  HandlerQueue q;
  std::vector<std::string> order;
  auto call = [&](std::string name) {
    return [&order, name](Done d) {
      order.push_back(name);
      d(Status::Ok());  // completes at once
    };
  };
  q.Push(call("call 1"), [&](Status) { order.push_back("then 1"); });
  q.Push(call("call 2"), [&](Status) { order.push_back("then 2"); });
  EXPECT_EQ(order, (std::vector<std::string>{"call 1", "then 1", "call 2", "then 2"}));
}

TEST(HandlerQueue, AContinuationMayQueueTheNextCall) {
  CallScript script;
  script.auto_complete = false;
  HandlerQueue q;
  q.Push([&](Done d) { script.Call("warm", std::move(d)); },
         [&](Status) { q.Push([&](Done d) { script.Call("drain", std::move(d)); }, nullptr); });
  q.Push([&](Done d) { script.Call("close", std::move(d)); }, nullptr);
  script.Complete();
  EXPECT_EQ(script.calls, (std::vector<std::string>{"warm", "close"}))
      << "queued in the order asked: the close was asked before the drain";
  script.Complete();
  EXPECT_EQ(script.calls, (std::vector<std::string>{"warm", "close", "drain"}));
}

TEST(HandlerQueue, ACompletionAfterTheQueueIsGoneDoesNothing) {
  CallScript script;
  script.auto_complete = false;
  bool ran = false;
  {
    HandlerQueue q;
    q.Push([&](Done d) { script.Call("warm", std::move(d)); }, [&](Status) { ran = true; });
  }
  script.Complete();
  EXPECT_FALSE(ran);
}

}  // namespace
}  // namespace engine
