#include "proxygw-engine/config/config.h"

#include <cassert>
#include <charconv>
#include <cstring>
#include <strings.h>

#include <algorithm>

#include "proxygw-engine/config/duration.h"

namespace config {

std::string_view ProtocolName(Protocol p) { return p == Protocol::kTcp ? "tcp" : "udp"; }

std::string_view LogLevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kDebug:
      return "DEBUG";
    case LogLevel::kInfo:
      return "INFO";
    case LogLevel::kWarn:
      return "WARN";
    case LogLevel::kError:
      return "ERROR";
  }
  return "INFO";
}

common::Result<LogLevel> ParseLogLevel(std::string_view text) {
  auto invalid = [&] {
    return common::Status::InvalidArgument(
        "invalid log level \"" + std::string(text.substr(0, 40)) +
        "\": expected DEBUG, INFO, WARN or ERROR, optionally with an offset such as INFO+2");
  };
  std::string_view name = text;
  int offset = 0;
  auto sign = text.find_first_of("+-");
  if (sign != std::string_view::npos) {
    name = text.substr(0, sign);
    std::string_view num = text.substr(sign + 1);
    auto [end, ec] = std::from_chars(num.data(), num.data() + num.size(), offset);
    if (num.empty() || ec != std::errc() || end != num.data() + num.size() || offset > 64) {
      return invalid();
    }
    if (text[sign] == '-') offset = -offset;
  }
  struct Named {
    const char* name;
    int value;  // Go slog's numbering
  };
  static constexpr Named kNames[] = {{"DEBUG", -4}, {"INFO", 0}, {"WARN", 4}, {"ERROR", 8}};
  for (const Named& n : kNames) {
    if (name.size() == std::strlen(n.name) && strncasecmp(name.data(), n.name, name.size()) == 0) {
      int v = n.value + offset;
      if (v <= -4) return LogLevel::kDebug;
      if (v <= 0) return LogLevel::kInfo;
      if (v <= 4) return LogLevel::kWarn;
      if (v <= 8) return LogLevel::kError;
      return common::Status::InvalidArgument("log level \"" + std::string(text) +
                                             "\" is above ERROR and would hide every message");
    }
  }
  return invalid();
}

const common::AddrPort* Endpoint::AddressFor(common::Family f) const {
  for (const auto& a : addresses) {
    if (a.family() == f) return &a;
  }
  return nullptr;
}

const Endpoint* Target::FindEndpoint(std::string_view n) const {
  for (const auto& e : endpoints) {
    if (e.name == n) return &e;
  }
  return nullptr;
}

const Target* Config::FindTarget(std::string_view n) const {
  auto& index = target_index.by_name;
  if (index.size() != targets.size()) {
    index.clear();
    for (std::size_t i = 0; i < targets.size(); ++i) index.emplace(targets[i].name, i);
    // Two targets of one name (the loader refuses them): the first, as a walk.
    if (index.size() != targets.size()) {
      index.clear();
      for (const auto& t : targets) {
        if (t.name == n) return &t;
      }
      return nullptr;
    }
  }
  auto it = index.find(n);
  if (it == index.end()) return nullptr;
  return &targets[it->second];
}

const Options* Config::PluginOptions(std::string_view ns) const {
  for (const auto& [name, o] : plugins) {
    if (name == ns) return &o;
  }
  return nullptr;
}

const Endpoint& Config::EndpointOf(const Frontend& f) const {
  const Target* t = FindTarget(f.target);
  assert(t != nullptr);
  const Endpoint* e = t->FindEndpoint(f.endpoint);
  assert(e != nullptr);
  return *e;
}

std::vector<Mapping> Config::MappingsOf(const Frontend& f) const {
  const Endpoint& e = EndpointOf(f);
  std::vector<Mapping> out;
  if (f.DualStack()) {
    for (common::Family fam : {common::Family::kIpv4, common::Family::kIpv6}) {
      common::AddrPort listen{common::IpAddress::Unspecified(fam), f.listen.port};
      out.push_back({f.protocol, listen, *e.AddressFor(fam), f.flow_timeout_s});
    }
  } else {
    out.push_back({f.protocol, f.listen, *e.AddressFor(f.listen.family()), f.flow_timeout_s});
  }
  return out;
}

std::chrono::seconds Config::ShutdownBudget() const {
  std::chrono::seconds longest{0};
  for (const auto& t : targets) {
    std::chrono::seconds stop{10};
    const YAML::Node& o = t.options.node;
    if (o.IsMap() && o["stop_timeout"] && o["stop_timeout"].IsScalar()) {
      auto d = ParseGoDuration(o["stop_timeout"].Scalar());
      if (d.ok()) stop = std::chrono::ceil<std::chrono::seconds>(*d);
    }
    longest = std::max(longest, stop);
  }
  return longest + kShutdownSlack;
}

}  // namespace config
