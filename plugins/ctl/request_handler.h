// What the ctl plugin answers: one request packet in, at most one response
// body out, computed from the engine's Control. No I/O and no state of its
// own: the connection (ctl_connection.h) orders, frames and limits. Called
// on the engine's loop.
#pragma once

#include <optional>

#include "common/ipc/ctl_protocol.h"
#include "proxygw-engine/control.h"
#include "proxygw-engine/status.h"

namespace ctl_plugin {

// The response due to `packet`:
//   - nullopt for a notification (id 0) and for a packet with a response
//     method and a non-zero id (ignored, as the original does);
//   - an ErrorResponse with the decode error when the body was malformed;
//   - StatusRequest: a StatusResponse from control.Status();
//   - WarmTargetRequest / DrainTargetRequest: control.Warm / Drain, then
//     the empty response when ok, else an ErrorResponse with the status's
//     message and code ("not_found" for an unknown target);
//   - any other method: ErrorResponse "unsupported method N".
std::optional<ipc::ctl::Body> Respond(engine::Control& control, const ipc::ctl::Packet& packet);

// The engine's snapshot in the wire's shape: targets, their endpoints and
// frontends sorted by name (byte order), as the original.
ipc::ctl::StatusResponse ToStatusResponse(const engine::StatusSnapshot& snapshot);

}  // namespace ctl_plugin
