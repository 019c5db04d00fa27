// proxygwctl's side of the ctl protocol: one request on a fresh connection to
// the engine's control socket, under one deadline that covers connecting,
// sending and receiving (the original waited forever: B25). Blocking; the
// client is single-threaded.
#pragma once

#include <chrono>
#include <string>

#include "common/ipc/ctl_protocol.h"
#include "common/status.h"

namespace proxygwctl {

struct CallOptions {
  std::string socket;
  ipc::ctl::Codec codec = ipc::ctl::Codec::kJson;
  std::chrono::milliseconds timeout{5000};
};

// Sends `request` with id 1 and returns the engine's answer to it: the body
// of the packet with id 1, which may be an ErrorResponse (the engine said no:
// an answer, not a failed call). An ErrorResponse with id 0 is also returned:
// the engine could not read the request. Other packets are skipped.
//
// Failures, each message naming the socket:
//   Unavailable       the engine is not running: no socket file, or nothing
//                     accepts on it (connection refused)
//   PermissionDenied  the socket or its directory does not let us connect
//   IoError with sys_errno() == ETIMEDOUT: no answer before the deadline
//   ProtocolError     the answer is not the protocol, or the connection
//                     closed before it came
//   other             any other system error
common::Result<ipc::ctl::Body> Call(const CallOptions& options, const ipc::ctl::Body& request);

}  // namespace proxygwctl
