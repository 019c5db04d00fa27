// valheim:status: Valheim's Steam query port (the game port + 1) while the
// target is cold. proxygw-engine answers A2S_INFO with the configured name,
// version and password flag, A2S_PLAYER and A2S_RULES with empty lists,
// A2S_SERVERQUERY_GETCHALLENGE with a challenge and A2A_PING with its reply,
// and never warms: server lists poll this port all the time. Runs on the
// engine's loop.
#pragma once

#include <chrono>
#include <memory>

#include "proxygw-engine/plugin_api.h"

namespace plugins::valheim {

struct StatusLimits {
  // Answers per second at most (a token bucket with a burst of as many):
  // with challenges no answer is larger than its request but A2A_PING's,
  // and this bounds what the port sends whatever comes in.
  unsigned replies_per_second = 500;
};

std::unique_ptr<engine::FrontendHandler> NewStatusFrontend(const engine::FrontendContext& ctx,
                                                           config::ErrorSink& errors,
                                                           const StatusLimits& limits = {});

}  // namespace plugins::valheim
