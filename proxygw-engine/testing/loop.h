// Helpers for the engine's unit tests: run the test's io_context for a while,
// or until something holds, and build mappings in one line. Test-only.
#pragma once

#include <chrono>

#include <boost/asio/io_context.hpp>

#include "common/ipc/netd_protocol.h"
#include "common/net_address.h"

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

// "198.18.0.1:80" -> "198.18.2.2:8080", TCP.
inline ipc::netd::Mapping TcpMapping(const char* listen, const char* dest,
                                     std::uint32_t flow_timeout_s = 60) {
  auto l = *common::AddrPort::Parse(listen);
  return ipc::netd::Mapping{ipc::netd::MappingKey{ipc::netd::Proto::kTcp, l.address, l.port},
                            *common::AddrPort::Parse(dest), flow_timeout_s};
}

}  // namespace engine::testing
