// valheim:server: Valheim's game port while the target is cold. A Valheim
// client opens with Steam Networking Sockets connection-setup datagrams
// (first byte 32, challenge request, or 34, connect request); such a
// datagram asks for the target to be warmed. Everything else (probes, stray
// traffic) is ignored, and nothing is ever answered: the real handshake is
// the server's once it runs. Options: none. Runs on the engine's loop.
#pragma once

#include <memory>
#include <string_view>

#include "proxygw-engine/plugin_api.h"

namespace plugins::valheim {

// At least the setup message's type and a little of its body (the
// original's bound).
inline constexpr std::size_t kMinSetupBytes = 6;

// Whether `datagram` is a connection-setup datagram that wakes the server.
bool IsConnectionSetup(std::string_view datagram);

std::unique_ptr<engine::FrontendHandler> NewServerFrontend(const engine::FrontendContext& ctx,
                                                           config::ErrorSink& errors);

}  // namespace plugins::valheim
