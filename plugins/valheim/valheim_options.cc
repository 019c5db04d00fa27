// Reading the valheim frontends' options (see the header).
#include "plugins/valheim/valheim_options.h"

#include <algorithm>

namespace plugins::valheim {
namespace {

constexpr char kNeedsUdp[] = " speaks Valheim's UDP protocols, which need protocol udp";

bool HasNulOrControl(std::string_view s) {
  return std::any_of(s.begin(), s.end(),
                     [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; });
}

void ReadText(config::ErrorSink& errors, const config::Fields& f, std::string_view key,
              std::string& out) {
  auto s = f.String(errors, key, /*required=*/true);
  if (!s) return;
  const config::Location at = config::LocationOf(f.Get(key));
  // A2S strings end at a NUL; the list shows one line.
  if (HasNulOrControl(*s)) {
    errors.Add(at, f.PathOf(key), "must not contain control characters");
    return;
  }
  if (s->size() > kMaxNameBytes) {
    errors.Add(at, f.PathOf(key),
               "must be at most " + std::to_string(kMaxNameBytes) + " bytes, got " +
                   std::to_string(s->size()));
    return;
  }
  out = std::move(*s);
}

// A YAML boolean (true/false, and YAML 1.1's yes/no/on/off).
void ReadBool(config::ErrorSink& errors, const config::Fields& f, std::string_view key, bool& out) {
  YAML::Node v = f.Get(key);
  if (!v.IsDefined()) return;
  if (config::ResolveScalar(v) != config::ScalarType::kBool) {
    errors.Add(v.IsNull() ? f.KeyLocation(key) : config::LocationOf(v), f.PathOf(key),
               "expected true or false, got " + config::DescribeNode(v));
    return;
  }
  std::string s = v.Scalar();
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  out = s == "true" || s == "yes" || s == "on" || s == "y";
}

void CheckUdp(const config::Frontend& f, config::ErrorSink& errors) {
  if (f.protocol != config::Protocol::kUdp) {
    errors.Add(f.location, f.path, f.kind.ToString() + kNeedsUdp);
  }
}

YAML::Node OptionsNode(const config::Frontend& f) {
  return f.options.node.IsDefined() ? f.options.node : YAML::Node();
}

}  // namespace

std::optional<StatusOptions> ReadStatusOptions(const config::Frontend& f,
                                               config::ErrorSink& errors) {
  const std::size_t before = errors.count();
  CheckUdp(f, errors);
  auto fields = config::Fields::Read(errors, OptionsNode(f), f.options.path, f.options.location,
                                     {"name", "version", "password", "vac"},
                                     /*null_is_empty=*/true);
  if (!fields) return std::nullopt;
  StatusOptions o;
  ReadText(errors, *fields, "name", o.name);
  ReadText(errors, *fields, "version", o.version);
  ReadBool(errors, *fields, "password", o.password);
  ReadBool(errors, *fields, "vac", o.vac);
  if (errors.count() != before) return std::nullopt;
  return o;
}

bool ReadServerOptions(const config::Frontend& f, config::ErrorSink& errors) {
  const std::size_t before = errors.count();
  CheckUdp(f, errors);
  config::Fields::Read(errors, OptionsNode(f), f.options.path, f.options.location, {},
                       /*null_is_empty=*/true);
  return errors.count() == before;
}

Info ValheimInfo(const StatusOptions& o, std::uint16_t query_port) {
  Info i;
  i.name = o.name;
  i.map = o.name;
  i.folder = "valheim";
  i.game = "";
  i.app_id = 0;
  i.max_players = 10;
  i.server_type = ServerType::kDedicated;
  i.environment = Environment::kLinux;
  i.password = o.password;
  i.vac = o.vac;
  i.version = "1.0.0.0";
  i.edf = kEdfPort | kEdfSteamId | kEdfKeywords | kEdfGameId;
  i.port = query_port == 0 ? 0 : static_cast<std::uint16_t>(query_port - 1);
  i.steam_id = kAnonymousGameServerSteamId;
  i.keywords = "g=" + o.version + ",n=36,m=";
  i.game_id = kValheimGameId;
  return i;
}

}  // namespace plugins::valheim
