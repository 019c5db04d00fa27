// Test support for the ctl protocol's tests (ctl_protocol_test.cc,
// ctl_stream_test.cc): a sample status with every field, and decoding a
// whole byte string. Test-only.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "common/ipc/ctl_protocol.h"
#include "common/ipc/ctl_stream.h"

namespace ipc::ctl::test_util {

using std::chrono::system_clock;

inline system_clock::time_point At(std::int64_t unix_seconds) {
  return system_clock::time_point(std::chrono::seconds(unix_seconds));
}

// 2024-05-01T12:00:00Z
constexpr std::int64_t kMay1 = 1714564800;

// Two targets (one dual-stack endpoint) and two frontends, every field set.
inline StatusResponse SampleStatus() {
  StatusResponse s;
  s.closed = false;
  s.dataplane_connected = true;
  TargetStatus api;
  api.name = "api";
  api.kind = "static:cmd";
  api.state = "active";
  api.flows = 3;
  api.since = At(kMay1);
  api.endpoints = {{"http", Protocol::kTcp, {"198.18.2.2:80", "[2001:db8::2]:80"}},
                   {"dns", Protocol::kUdp, {"198.18.2.2:53"}}};
  TargetStatus web;
  web.name = "web";
  web.kind = "static:cmd";
  web.state = "inactive";
  web.last_error = "backend exited: status 1";
  web.flows = 0;
  web.since = At(kMay1 + 90);
  s.targets = {api, web};
  FrontendStatus pub;
  pub.name = "public";
  pub.kind = "static:always";
  pub.state = "running";
  pub.protocol = Protocol::kTcp;
  pub.listen = "[::]:80";
  pub.target_name = "api";
  pub.endpoint_name = "http";
  pub.proxy_addresses = {"198.18.2.2:80", "[2001:db8::2]:80"};
  FrontendStatus dns;
  dns.name = "dns";
  dns.kind = "static:always";
  dns.state = "stopped";
  dns.last_error = "bind: address in use";
  dns.protocol = Protocol::kUdp;
  dns.listen = "0.0.0.0:53";
  dns.target_name = "api";
  dns.endpoint_name = "dns";
  dns.proxy_addresses = {"198.18.2.2:53"};
  s.frontends = {pub, dns};
  return s;
}

// Decodes everything in `bytes` (one Feed) and returns the packets; fails
// the test on a stream error.
inline std::vector<Packet> DecodeAll(Codec codec, std::string_view bytes,
                                     std::size_t max = kMaxRequestBytes) {
  StreamDecoder d(codec, max);
  d.Feed(bytes);
  std::vector<Packet> out;
  for (;;) {
    auto r = d.Next();
    EXPECT_TRUE(r.ok()) << r.status().message();
    if (!r.ok() || !r->has_value()) break;
    out.push_back(std::move(**r));
  }
  return out;
}

inline std::string Cbor(const nlohmann::ordered_json& j) {
  auto v = nlohmann::ordered_json::to_cbor(j);
  return std::string(v.begin(), v.end());
}

}  // namespace ipc::ctl::test_util
