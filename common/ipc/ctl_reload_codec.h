// The reload response's body in the ctl protocol (method 257, an addition):
// encoding (the same in both codecs: it carries only booleans, strings and
// lists of them) and decoding with a message naming the bad field, and the
// text proxygwctl prints for it. Internal to proxygw_ipc_ctl (ctl_protocol.cc
// dispatches to it); library code: no logging, no I/O.
#pragma once

#include "common/ipc/ctl_json.h"
#include "common/ipc/ctl_protocol.h"

namespace ipc::ctl::detail {

// The body object of `r`: applied, errors, targets, frontends, remapped.
OJson EncodeReload(const ReloadResponse& r);
// The body object `b` (an object) as a ReloadResponse.
common::Result<Body> ReadReload(const Json& b);

}  // namespace ipc::ctl::detail
