// static:hold: a frontend that wakes its target on a client's first packet,
// for any TCP or UDP service. It opens no socket: while the target is not
// active, netd holds a new flow's first packets to the listen address in the
// kernel and knocks; the frontend asks for a warm (knocks coalesce: one warm
// per cold start), and the target's mappings going on release the held
// packets into DNAT, so the client's first connect() or datagram simply
// succeeds, late. When the warm fails, it releases them at once (the clients
// are refused); netd refuses what waits longer than `hold`.
//
// Options:
//   allow: source prefixes that may wake the target ("198.18.1.0/24",
//          "2001:db8::/32", or a bare address), IPv4 and IPv6, at most 16
//          per family, none overlapping; default anyone. A source outside
//          them is not held (netd's hold set filters it in nftables): it
//          meets the closed port. With prefixes of one family only, clients
//          of the other family never wake the target.
//   hold:  how long a packet may wait, whole seconds, 1s to 5m; default the
//          target's ready_timeout (at most 5m).
// Runs in the engine.
#pragma once

#include <memory>

#include "proxygw-engine/plugin_api.h"

namespace plugins::static_ns {

std::unique_ptr<engine::FrontendHandler> NewHoldFrontend(const engine::FrontendContext& ctx,
                                                         config::ErrorSink& errors);

}  // namespace plugins::static_ns
