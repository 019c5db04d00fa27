// What the engine reports about itself: a snapshot of every target and
// frontend, taken on the engine's event loop. The ctl plugin turns it into the
// original's status response (plus the additions listed on each field).
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "proxygw-engine/config/config.h"

namespace engine {

struct EndpointStatus {
  std::string name;
  config::Protocol protocol = config::Protocol::kTcp;
  std::vector<std::string> addresses;  // "198.18.2.2:80", "[2001:db8::2]:80"; one or two
};

struct TargetStatus {
  std::string name;
  std::string kind;        // "static:cmd"
  std::string state;       // inactive | active | warming | draining | closed
  std::string last_error;  // empty when none
  std::vector<EndpointStatus> endpoints;  // sorted by name
  // Additions to the original's shape:
  // Active DNATed flows to its endpoints, as netd reported them; unknown
  // (nullopt) while the engine is not in sync with netd.
  std::optional<std::uint32_t> flows;
  std::chrono::system_clock::time_point since;  // when it entered its state
  std::string kept_warm_by;  // a frontend that keeps it from idling out; empty when none
  // On an HA follower (backup, fault): "live" when its backend answers the
  // follow probe (its mappings on), "down" otherwise; empty on a master.
  std::string follow{};
};

struct FrontendStatus {
  std::string name;
  std::string kind;
  std::string state;  // stopped | starting | running | stopping | closed
  std::string last_error;
  config::Protocol protocol = config::Protocol::kTcp;
  std::string listen;                   // "0.0.0.0:8080", "[::]:443"
  std::string target_name;
  std::string endpoint_name;
  std::vector<std::string> proxy_addresses;  // where clients are forwarded; one per family served
  // A frontend that holds first packets (static:hold): knocks since it
  // started, and the latest knock's source; nullopt for other kinds.
  std::optional<std::uint64_t> knocks{};
  std::string last_knock_from{};
};

struct StatusSnapshot {
  bool closed = false;     // shutdown has started
  bool dataplane_connected = false;  // addition: is the engine connected to netd
  std::vector<TargetStatus> targets;      // sorted by name
  std::vector<FrontendStatus> frontends;  // sorted by name
  // Addition: the node's HA role ("master", "backup", "fault"); empty when
  // the config has no ha section.
  std::string role{};
};

// Names of targets or frontends by what a config reload does with them; each
// list sorted.
struct ChangeList {
  std::vector<std::string> added, removed, changed, unchanged;
  friend bool operator==(const ChangeList&, const ChangeList&) = default;
};

// What a config reload did (Control::Reload).
struct ReloadReport {
  bool applied = false;
  // Refused: why, one located error a line ("file:line:col: path: message"),
  // as --check-config prints them. The running config stays.
  std::vector<std::string> errors;
  // Applied: the plan. Added ones start, removed ones drain and stop,
  // changed ones are replaced (drained, then started anew), unchanged ones
  // keep their state, flows and backend.
  ChangeList targets;
  ChangeList frontends;
  // Unchanged targets whose mappings were updated in place (a frontend of
  // theirs added, removed or changed).
  std::vector<std::string> remapped;
};

}  // namespace engine
