// The static:http frontend kind: a small HTTP/1.1 server on the frontend's
// listen address that answers every request for its `endpoint` path with a
// fixed page and asks for the target to be warmed. Runs inside proxygw-engine,
// on the engine's event loop.
#pragma once

#include <memory>

#include "plugins/net/http_server.h"
#include "proxygw-engine/plugin_api.h"

namespace plugins::static_ns {

// The static:http frontend kind (see the .cc for the contract).
std::unique_ptr<engine::FrontendHandler> NewHttpFrontend(const engine::FrontendContext& ctx,
                                                         config::ErrorSink& errors);

// The bounds every static:http server keeps (plugins/net/http_server.h).
// NewHttpFrontend uses the defaults; tests shorten them through
// NewHttpFrontendWithLimits.
using HttpLimits = plugins::net::HttpLimits;

// As NewHttpFrontend, with other limits. For tests.
std::unique_ptr<engine::FrontendHandler> NewHttpFrontendWithLimits(
    const engine::FrontendContext& ctx, config::ErrorSink& errors, const HttpLimits& limits);

}  // namespace plugins::static_ns
