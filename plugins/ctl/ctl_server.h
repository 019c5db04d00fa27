// The ctl plugin's server: the control socket and the connections on it, on
// the engine's event loop. It keeps accepting through accept errors such as
// EMFILE (logged, retried after a pause; the original crashed: B3), bounds
// the number of connections, and on Close removes the socket file it created
// (B2), never that of an inherited socket.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>

#include "common/status.h"
#include "common/unique_fd.h"
#include "plugins/ctl/ctl_config.h"
#include "plugins/ctl/ctl_connection.h"
#include "proxygw-engine/control.h"
#include "proxygw-engine/log.h"

namespace boost::asio {
class io_context;
}

namespace ctl_plugin {

struct ServerLimits {
  std::size_t max_connections = 64;  // more are accepted and closed at once
  std::chrono::milliseconds accept_retry{250};
  ConnectionLimits connection;
};

class Server {
 public:
  // Accepts on `inherited` when it is valid (a listening socket bound to
  // config.socket, passed down by whoever started the engine:
  // inherited_socket.h), else on a socket file it creates (socket_file.h:
  // ListenAt), on `io`. Error: the socket could not be created; the message
  // names the path and why. `control` must outlive Close().
  static common::Result<std::unique_ptr<Server>> Start(boost::asio::io_context& io,
                                                       engine::Control& control, engine::Logger log,
                                                       const CtlConfig& config,
                                                       ServerLimits limits = {},
                                                       common::UniqueFd inherited = {});
  ~Server();  // Close()
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Stops accepting, ends every connection and removes the socket file if
  // Start created it and it is still that file. Idempotent. Call on the loop
  // (or with the loop stopped); handlers still queued run later and do
  // nothing. The io_context must outlive the Server.
  void Close();

  std::size_t connection_count() const;

 private:
  struct State;
  explicit Server(std::shared_ptr<State> state);
  std::shared_ptr<State> state_;
};

}  // namespace ctl_plugin
