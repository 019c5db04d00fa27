// NetdConnection: one connection to proxygw-netd's socket (SOCK_SEQPACKET, one
// message per packet), as the engine's netd client uses it. Requests go out
// with an id, and each reply comes back to the callback sent with it; flow
// count pushes go to `push`, knocks to `knock`. It knows the protocol's
// framing and ids, nothing of mappings or of the handshake.
//
// It ends once, for good: netd closed it or refused it (an error with id 0,
// such as busy or wrong uid), a message did not decode, or netd did not
// answer a request (or send an awaited push) within the request timeout, so
// that a wedged netd cannot leave anything waiting for ever. Then `ended(why)`
// runs, and every pending reply fails with Unavailable. Close ends it too,
// without `ended`. Event loop only; nothing runs after it is destroyed.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "common/ipc/netd_protocol.h"
#include "common/status.h"

namespace boost::asio {
class io_context;
}

namespace engine {

class NetdConnection {
 public:
  struct Handlers {
    std::function<void(const ipc::netd::FlowCountsPush&)> push;
    std::function<void(const ipc::netd::KnockPush&)> knock;
    std::function<void(const std::string& why)> ended;
  };
  using Reply = std::function<void(common::Result<ipc::netd::NetdMessage>)>;

  // Connects to the socket at `path`; Unavailable naming the path and the
  // error when it cannot.
  static common::Result<std::unique_ptr<NetdConnection>> Open(
      boost::asio::io_context& io, const std::string& path,
      std::chrono::milliseconds request_timeout, Handlers handlers);
  ~NetdConnection();
  NetdConnection(const NetdConnection&) = delete;
  NetdConnection& operator=(const NetdConnection&) = delete;

  // Sends `body`; `reply` gets netd's answer (a reply or an error reply), or
  // Unavailable when the connection ends first (at once, when it has).
  void Send(ipc::netd::RequestBody body, Reply reply);
  // A push must arrive within the request timeout (`what`, such as the flow
  // snapshot that follows Subscribe, names it when it does not).
  void AwaitPush(std::string what);
  // Ends it without calling `ended`; pending replies fail with `why`.
  void Close(const std::string& why);

 private:
  struct State;
  explicit NetdConnection(std::shared_ptr<State> s);
  std::shared_ptr<State> s_;
};

}  // namespace engine
