// Helpers for the engine's unit tests: run the test's io_context for a while,
// or until something holds. Test-only.
#pragma once

#include <chrono>

#include <boost/asio/io_context.hpp>

namespace engine::testing {

// Runs `io`'s handlers for `d` of wall time.
inline void RunFor(boost::asio::io_context& io, std::chrono::milliseconds d) {
  io.restart();
  io.run_for(d);
}

// Runs `io` until `pred` holds or `bound` passes; returns `pred`.
template <class P>
bool RunUntil(boost::asio::io_context& io, P pred,
              std::chrono::milliseconds bound = std::chrono::seconds(10)) {
  auto end = std::chrono::steady_clock::now() + bound;
  while (!pred() && std::chrono::steady_clock::now() < end) {
    RunFor(io, std::chrono::milliseconds(5));
  }
  return pred();
}

}  // namespace engine::testing
