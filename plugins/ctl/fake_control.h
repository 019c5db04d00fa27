// Test support: a scripted engine::Control for the ctl plugin's tests and
// tests/ctl/ctl_test_server. Its status is a fixed snapshot; Warm and Drain
// succeed for the snapshot's targets (and are recorded), answer NotFound for
// other names and Unavailable for a target whose state is "closed"; Reload
// answers a fixed report (recorded too); SetRole takes any role (recorded). Not thread-safe: use it on the loop
// that serves it.
#pragma once

#include <chrono>
#include <string>
#include <vector>

#include "proxygw-engine/control.h"

namespace ctl_plugin {

// 2024-05-01T12:00:00Z
inline constexpr std::int64_t kSampleSince = 1714564800;

// Two targets and two frontends, deliberately not in name order, with one
// dual-stack endpoint and frontend.
inline engine::StatusSnapshot SampleSnapshot() {
  using std::chrono::seconds;
  using std::chrono::system_clock;
  engine::StatusSnapshot s;
  s.closed = false;
  s.dataplane_connected = true;
  engine::TargetStatus web;
  web.name = "web";
  web.kind = "static:cmd";
  web.state = "inactive";
  web.last_error = "backend exited: status 1";
  web.flows = 0;
  web.since = system_clock::time_point(seconds(kSampleSince + 90));
  web.endpoints = {{"http", config::Protocol::kTcp, {"198.18.2.3:8080"}}};
  engine::TargetStatus api;
  api.name = "api";
  api.kind = "static:cmd";
  api.state = "active";
  api.flows = 3;
  api.since = system_clock::time_point(seconds(kSampleSince));
  api.endpoints = {{"http", config::Protocol::kTcp, {"198.18.2.2:80", "[2001:db8::2]:80"}},
                   {"dns", config::Protocol::kUdp, {"198.18.2.2:53"}}};
  s.targets = {web, api};
  engine::FrontendStatus pub;
  pub.name = "public";
  pub.kind = "static:always";
  pub.state = "running";
  pub.protocol = config::Protocol::kTcp;
  pub.listen = "[::]:80";
  pub.target_name = "api";
  pub.endpoint_name = "http";
  pub.proxy_addresses = {"198.18.2.2:80", "[2001:db8::2]:80"};
  engine::FrontendStatus dns;
  dns.name = "dns";
  dns.kind = "static:always";
  dns.state = "stopped";
  dns.last_error = "bind: address in use";
  dns.protocol = config::Protocol::kUdp;
  dns.listen = "0.0.0.0:53";
  dns.target_name = "api";
  dns.endpoint_name = "dns";
  dns.proxy_addresses = {"198.18.2.2:53"};
  s.frontends = {pub, dns};
  return s;
}

// A reload that added one target and frontend, replaced one target (and
// its frontend) and left the rest alone; or, `refused`, one refused with two
// located errors.
inline engine::ReloadReport SampleReloadReport(bool refused = false) {
  engine::ReloadReport r;
  if (refused) {
    r.errors = {"/etc/proxygw/proxygw.yaml:12:15: targets[1].idle_timeout: must be at least 1s, "
                "got \"0s\"",
                "/etc/proxygw/proxygw.yaml: netd.socket: changed from \"/run/a.sock\" to "
                "\"/run/b.sock\"; this needs a restart of proxygw (the engine's connection to "
                "proxygw-netd is set up at start)"};
    return r;
  }
  r.applied = true;
  r.targets = {{"game"}, {}, {"web"}, {"api"}};
  r.frontends = {{"game"}, {}, {"public"}, {"dns"}};
  r.remapped = {"api"};
  return r;
}

class FakeControl : public engine::Control {
 public:
  explicit FakeControl(engine::StatusSnapshot snapshot = SampleSnapshot())
      : snapshot_(std::move(snapshot)) {}

  engine::StatusSnapshot Status() const override { return snapshot_; }
  common::Status Warm(const std::string& name) override { return Act("warm", name); }
  common::Status Drain(const std::string& name) override { return Act("drain", name); }
  engine::ReloadReport Reload() override {
    calls_.push_back("reload");
    return reload_;
  }
  common::Status SetRole(common::HaRole role, common::HaRole* previous) override {
    calls_.push_back(std::string("role ") + common::HaRoleName(role));
    if (previous != nullptr) *previous = role_;
    role_ = role;
    return common::Status::Ok();
  }

  engine::StatusSnapshot& snapshot() { return snapshot_; }
  engine::ReloadReport& reload_report() { return reload_; }
  // "warm web", "drain api", in call order.
  const std::vector<std::string>& calls() const { return calls_; }

 private:
  common::Status Act(const std::string& what, const std::string& name) {
    for (const auto& t : snapshot_.targets) {
      if (t.name != name) continue;
      if (t.state == "closed") {
        return common::Status::Unavailable("target \"" + name + "\" is closed; it cannot " +
                                           what);
      }
      calls_.push_back(what + " " + name);
      return common::Status::Ok();
    }
    return common::Status::NotFound("no target named \"" + name + "\"");
  }

  engine::StatusSnapshot snapshot_;
  engine::ReloadReport reload_ = SampleReloadReport();
  common::HaRole role_ = common::HaRole::kMaster;
  std::vector<std::string> calls_;
};

}  // namespace ctl_plugin
