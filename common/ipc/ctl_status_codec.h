// The status response's body in the ctl protocol (method 3): encoding in
// either codec (protocols as text in JSON, as the integers 6/17 in CBOR, the
// original's encodings) and decoding with a message naming the bad field.
// Internal to proxygw_ipc_ctl (ctl_protocol.cc dispatches to it); library
// code: no logging, no I/O.
#pragma once

#include "common/ipc/ctl_json.h"
#include "common/ipc/ctl_protocol.h"

namespace ipc::ctl::detail {

// The body object of `s`, keys in the original's order.
OJson EncodeStatus(const StatusResponse& s, bool cbor);
// The body object `b` (an object) as a StatusResponse.
common::Result<Body> ReadStatus(const Json& b);

}  // namespace ipc::ctl::detail
