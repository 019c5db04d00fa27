// The minecraft:server frontend kind: while its target is cold, proxygw-engine
// answers Minecraft Java Edition clients on the frontend's listen address
// (server list pings get a status, a login warms the target and is told to
// come back); once the target is active, the kernel forwards new connections
// to the real server and this listener sees none. Runs on the engine's event
// loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include "proxygw-engine/plugin_api.h"

namespace plugins::minecraft {

// The bounds every minecraft:server keeps; tests shorten them.
struct ServerLimits {
  std::size_t max_packet_bytes = 4096;              // any packet a client sends while cold
  std::chrono::milliseconds read_timeout{10'000};   // for the whole exchange
  std::chrono::milliseconds linger_timeout{2'000};  // to see the client close after our answer
  std::size_t max_connections = 256;                // more are closed when accepted
  std::chrono::milliseconds accept_retry{100};      // pause after EMFILE and the like
};

// The state of the frontend's target ("inactive", "warming", "active"...),
// asked when a status is answered; "" when unknown.
using TargetStateFn = std::function<std::string()>;

std::unique_ptr<engine::FrontendHandler> NewServerFrontend(const engine::FrontendContext& ctx,
                                                           config::ErrorSink& errors,
                                                           TargetStateFn target_state,
                                                           const ServerLimits& limits = {});

}  // namespace plugins::minecraft
