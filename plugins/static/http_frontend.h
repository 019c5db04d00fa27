// The static:http frontend kind: a small HTTP/1.1 server on the frontend's
// listen address that answers every request for its `endpoint` path with a
// fixed page and asks for the target to be warmed. Runs inside proxygw-engine,
// on the engine's event loop.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>

#include "proxygw-engine/plugin_api.h"

namespace plugins::static_ns {

// The static:http frontend kind (see the .cc for the contract).
std::unique_ptr<engine::FrontendHandler> NewHttpFrontend(const engine::FrontendContext& ctx,
                                                         config::ErrorSink& errors);

// The bounds every static:http server keeps. NewHttpFrontend uses these
// defaults; tests shorten them through NewHttpFrontendWithLimits.
struct HttpLimits {
  std::size_t header_bytes = 8 * 1024;              // request line and headers; over: 431
  std::uint64_t body_bytes = 64 * 1024;             // request body, read and discarded; over: 413
  std::chrono::milliseconds read_timeout{10'000};   // to receive a whole request
  std::chrono::milliseconds write_timeout{10'000};  // to send the response
  std::chrono::milliseconds linger_timeout{2'000};  // to see the client close after it
  std::size_t max_connections = 256;                // more are closed when accepted
  std::chrono::milliseconds accept_retry{100};      // pause after EMFILE and the like
};

// As NewHttpFrontend, with other limits. For tests.
std::unique_ptr<engine::FrontendHandler> NewHttpFrontendWithLimits(
    const engine::FrontendContext& ctx, config::ErrorSink& errors, const HttpLimits& limits);

}  // namespace plugins::static_ns
