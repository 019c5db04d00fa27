// The typed proxygw configuration (format v1), as the loader produces it from
// YAML: every field checked, references resolved, defaults filled in. Shared by
// proxygw-engine, the proxygw supervisor and proxygwctl; netd never sees it.
// configs/README.md documents each field; configs/proxygw.schema.yaml holds the
// same structure as a JSON Schema.
#pragma once

#include <yaml-cpp/yaml.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "common/ha_role.h"
#include "common/net_address.h"

namespace config {

enum class Protocol : std::uint8_t { kTcp = 6, kUdp = 17 };  // IANA numbers, as the original
std::string_view ProtocolName(Protocol p);                    // "tcp" / "udp"

enum class LogLevel : std::uint8_t { kDebug, kInfo, kWarn, kError };
std::string_view LogLevelName(LogLevel l);  // "DEBUG" ...
// "DEBUG", "info", "WARN", "ERROR", with the original's optional offset
// ("INFO+2" is WARN: Go's slog levels are DEBUG=-4, INFO=0, WARN=4, ERROR=8,
// and a threshold between two levels lets the higher one through).
common::Result<LogLevel> ParseLogLevel(std::string_view text);

// "namespace:name": a plugin kind ("static:cmd").
struct KindRef {
  std::string ns;
  std::string name;
  std::string ToString() const { return ns + ":" + name; }
};

// Where a node came from, for messages about it after loading.
struct Location {
  int line = 0;    // 1-based; 0 when unknown
  int column = 0;  // 1-based
};

// Where each field of a list item was written, so that a message about one
// field points at it rather than at the item. Fields not written: the item.
struct FieldLocations {
  Location item;
  std::map<std::string, Location, std::less<>> fields;

  Location At(std::string_view field) const {
    auto it = fields.find(field);
    return it == fields.end() ? item : it->second;
  }
};

// A plugin's or an object's free-form options, with their location so that the
// plugin can report errors at the right spot. `node` is null when absent.
struct Options {
  YAML::Node node;
  std::string path;  // "targets[0].options", "plugins.ctl"
  Location location;
};

struct Endpoint {
  std::string name;
  Protocol protocol = Protocol::kTcp;
  // One or two addresses, at most one per family, in the order written.
  std::vector<common::AddrPort> addresses;
  std::string path;  // "targets[0].endpoints[1]", for messages about it
  Location location;
  FieldLocations at;  // where its fields were written

  // The address of family `f`, or null.
  const common::AddrPort* AddressFor(common::Family f) const;
};

struct Target {
  std::string name;
  KindRef kind;
  std::uint32_t idle_timeout_s = 0;
  std::uint32_t ready_timeout_s = 0;
  std::vector<Endpoint> endpoints;
  Options options;
  std::string path;  // "targets[1]"
  Location location;
  FieldLocations at;

  const Endpoint* FindEndpoint(std::string_view name) const;
};

// One DNAT rule a frontend needs: clients of `listen`'s family reaching
// `listen` go to `destination`. A frontend on [::] has two, one per family.
struct Mapping {
  Protocol protocol;
  common::AddrPort listen;       // a wildcard (0.0.0.0 / ::) or specific address
  common::AddrPort destination;  // same family as listen
  std::uint32_t flow_timeout_s;
};

struct Frontend {
  std::string name;
  KindRef kind;
  Protocol protocol = Protocol::kTcp;  // taken from the endpoint when not written
  bool protocol_explicit = false;      // whether the file wrote it
  common::AddrPort listen;
  std::uint32_t flow_timeout_s = 0;
  std::string target;    // target name
  std::string endpoint;  // endpoint name within the target
  Options options;
  std::string path;  // "frontends[2]"
  Location location;
  FieldLocations at;

  // Set by the semantic checks: listen is [::] and the endpoint has an IPv6
  // address only, so only IPv6 clients are served (the original's meaning).
  bool ipv6_only = false;

  // True when listen is [::] and the endpoint has both families: IPv4 and
  // IPv6 clients are served.
  bool DualStack() const {
    return listen.address.is_v6() && listen.address.IsUnspecified() && !ipv6_only;
  }
};

struct LogConfig {
  std::string output;  // "stdout", "stderr" or an absolute file path
  LogLevel level = LogLevel::kInfo;
};

struct NetdConfig {
  std::string socket = "/run/proxygw-netd/netd.sock";
  std::string user = "proxygw-netd";
};

struct EngineConfig {
  std::string user = "proxygw";
  std::string state_dir = "/run/proxygw";
};

// The optional `ha` section (docs/ha.md): this node is one of a keepalived
// pair. Absent: a single gateway, always master.
struct HaConfig {
  bool enabled = false;  // the section was written
  // The role before keepalived's notify hook has said one (`proxygwctl role`)
  // and no earlier engine of this boot recorded one (engine.state_dir).
  // Default backup in an HA section: a node never warms before it knows it
  // is the master.
  common::HaRole initial_role = common::HaRole::kBackup;
};

// FindTarget's index: target name -> position. Not part of the config: a
// copy or a move starts empty (the names it points into are the source's).
struct TargetIndex {
  TargetIndex() = default;
  TargetIndex(const TargetIndex&) {}
  TargetIndex& operator=(const TargetIndex&) {
    by_name.clear();
    return *this;
  }
  std::unordered_map<std::string_view, std::size_t> by_name;
};

struct Config {
  std::string file;  // the path it was loaded from, for messages
  std::string version;
  LogConfig log;
  NetdConfig netd;
  EngineConfig engine;
  HaConfig ha;
  // Keyed by plugin namespace; order as written.
  std::vector<std::pair<std::string, Options>> plugins;
  std::vector<Target> targets;
  std::vector<Frontend> frontends;

  // By an index built at the first call (and again whenever the number of
  // targets changed): every frontend's mappings, the status and the netd
  // policy look targets up by name, which a walk made quadratic in the
  // number of targets (10,000 in make bench).
  const Target* FindTarget(std::string_view name) const;
  const Options* PluginOptions(std::string_view ns) const;  // null when absent
  // The endpoint a frontend forwards to; the loader guarantees it exists.
  const Endpoint& EndpointOf(const Frontend& f) const;
  // The DNAT mappings of one frontend (one, or two for a dual-stack listen).
  std::vector<Mapping> MappingsOf(const Frontend& f) const;
  // How long a draining shutdown of the engine may take: targets drain in
  // parallel, each bounded by its kind's `stop_timeout` option (10 s where a
  // target has none, static:cmd's default), plus kShutdownSlack for the
  // SIGKILL wait and the dataplane's steps. The engine holds itself to it and
  // tells systemd; the supervisor waits that long before SIGKILL.
  std::chrono::seconds ShutdownBudget() const;

  mutable TargetIndex target_index;  // FindTarget's; not part of the config
};

inline constexpr std::chrono::seconds kShutdownSlack{30};

inline constexpr std::uint32_t kDefaultReadyTimeoutS = 60;
// The kernel turns a ct timeout policy's seconds into jiffies without
// clamping: past 2,147,483 s (24.8 days) at HZ=1000 a flow expires at once.
// 24 days stays clear, as netd's own limit (proxygw-netd/validate.h).
inline constexpr std::uint32_t kMaxFlowTimeoutS = 24 * 24 * 3600;
inline constexpr std::uint32_t kMaxIdleTimeoutS = 365 * 24 * 3600;
inline constexpr std::uint32_t kMaxReadyTimeoutS = 24 * 3600;

}  // namespace config
