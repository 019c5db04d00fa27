// Server: netd's event loop. It accepts the engine on the listening socket
// (one connection at a time, SO_PEERCRED uid checked), decodes each request,
// checks it against its row of the dispatch table (phase, limits, fields),
// applies it to the kernel through NftTable and FlowTracker, and answers; it
// follows conntrack events and pushes flow counts to a subscribed engine, and
// holds the packets HoldQueue receives until their key is enabled, released
// or out of time, knocking for them.
// Runs inside proxygw-netd only, single-threaded, after the sandbox is up: it
// opens nothing but the connections it accepts.
//
// A request that is malformed, out of order, over a limit or invalid gets an
// error reply and its connection is closed, having changed nothing; the
// kernel's state and the next connection are unaffected. A valid request the
// kernel refuses gets an error reply carrying the errno, and the connection
// stays open.
#pragma once

#include <sys/types.h>

#include <memory>

#include "common/status.h"
#include "proxygw-netd/flow_tracker.h"
#include "proxygw-netd/hold_queue.h"
#include "proxygw-netd/nft_table.h"
#include "proxygw-netd/policy.h"

namespace netd {

struct ServerOptions {
  int listen_fd = -1;           // a listening SOCK_SEQPACKET Unix socket
  uid_t engine_uid = 0;         // the only peer uid accepted
  int route_localnet_fd = -1;   // /proc/sys/net/ipv4/conf/all/route_localnet, or -1
  // What may be mapped (and held), and each key's mark; not null
  // (Policy::AllowingAny() for --no-policy).
  Policy* policy = nullptr;
};

class Server {
 public:
  enum class Exit { kSignal, kShutdown };

  // Sets up epoll and a signalfd for SIGTERM and SIGINT (blocked here).
  static common::Result<std::unique_ptr<Server>> Create(const ServerOptions& options,
                                                        NftTable& table, FlowTracker& tracker,
                                                        HoldQueue& queue);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Serves until a signal or a Shutdown request. An error is returned only
  // when the loop itself cannot go on (epoll failed).
  common::Result<Exit> Run();

 private:
  struct Impl;
  explicit Server(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace netd
