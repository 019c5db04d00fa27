// Reading minecraft:server's options (see the header).
#include "plugins/minecraft/server_options.h"

#include <algorithm>
#include <cctype>

#include "plugins/minecraft/favicon.h"

namespace plugins::minecraft {
namespace {

constexpr std::string_view kNeedsTcp =
    "minecraft:server speaks the Java Edition protocol, which needs protocol tcp";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

void ReadText(config::ErrorSink& errors, const config::Fields& f, std::string_view key,
              std::string& out) {
  auto s = f.String(errors, key, /*required=*/false, /*allow_empty=*/true);
  if (!s) return;
  if (s->size() > kMaxTextBytes) {
    errors.Add(config::LocationOf(f.Get(key)), f.PathOf(key),
               "must be at most " + std::to_string(kMaxTextBytes) + " bytes, got " +
                   std::to_string(s->size()));
    return;
  }
  out = std::move(*s);
}

// A decimal integer in [min, max]: YAML's other integer forms (0x1F, 1_000)
// are refused rather than guessed at.
std::optional<std::int32_t> ReadInt(config::ErrorSink& errors, const config::Fields& f,
                                    std::string_view key, std::int64_t min, std::int64_t max) {
  YAML::Node v = f.Get(key);
  if (!v.IsDefined()) return std::nullopt;
  if (config::ResolveScalar(v) == config::ScalarType::kInt) {
    const std::string& s = v.Scalar();
    if (!s.empty() && s.size() <= 10 && s.find_first_not_of("0123456789") == std::string::npos) {
      std::int64_t n = std::stoll(s);
      if (n >= min && n <= max) return static_cast<std::int32_t>(n);
    }
  }
  errors.Add(v.IsNull() ? f.KeyLocation(key) : config::LocationOf(v), f.PathOf(key),
             "expected a whole number from " + std::to_string(min) + " to " + std::to_string(max) +
                 ", got " + config::DescribeNode(v));
  return std::nullopt;
}

bool ValidPlayerName(std::string_view s) {
  return !s.empty() && s.size() <= 16 && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

void ReadWakeAllow(config::ErrorSink& errors, const config::Fields& f, ServerOptions& o) {
  YAML::Node v = f.Get("wake_allow");
  if (!v.IsDefined()) return;
  const std::string path = f.PathOf("wake_allow");
  if (!v.IsSequence()) {
    errors.Add(v.IsNull() ? f.KeyLocation("wake_allow") : config::LocationOf(v), path,
               "expected a list of player names, got " + config::DescribeNode(v));
    return;
  }
  if (v.size() > kMaxWakeAllow) {
    errors.Add(
        config::LocationOf(v), path,
        "at most " + std::to_string(kMaxWakeAllow) + " names, got " + std::to_string(v.size()));
    return;
  }
  for (std::size_t i = 0; i < v.size(); ++i) {
    const std::string item_path = config::Index(path, i);
    auto name = config::ReadString(errors, v[i], item_path, config::LocationOf(v));
    if (!name) continue;
    if (!ValidPlayerName(*name)) {
      errors.Add(config::LocationOf(v[i]), item_path,
                 "a player name has 1 to 16 letters, digits or \"_\", got \"" +
                     name->substr(0, 64) + "\"");
      continue;
    }
    o.wake_allow.push_back(Lower(*name));
  }
}

void ReadFaviconOption(config::ErrorSink& errors, const config::Fields& f, ServerOptions& o) {
  auto path = f.String(errors, "favicon", /*required=*/false);
  if (!path) return;
  const config::Location at = config::LocationOf(f.Get("favicon"));
  if ((*path)[0] != '/') {
    errors.Add(at, f.PathOf("favicon"),
               "must be an absolute path to a 64x64 PNG file, got \"" + path->substr(0, 64) + "\"");
    return;
  }
  auto uri = ReadFavicon(*path);
  if (!uri.ok()) {
    errors.Add(at, f.PathOf("favicon"), uri.status().message());
    return;
  }
  o.favicon = std::move(*uri);
}

}  // namespace

std::optional<ServerOptions> ReadServerOptions(const config::Frontend& f,
                                               config::ErrorSink& errors) {
  const std::size_t before = errors.count();
  if (f.protocol != config::Protocol::kTcp) errors.Add(f.location, f.path, std::string(kNeedsTcp));
  YAML::Node node = f.options.node.IsDefined() ? f.options.node : YAML::Node();
  auto fields =
      config::Fields::Read(errors, node, f.options.path, f.options.location,
                           {"motd", "login", "starting_motd", "not_allowed", "version_name",
                            "protocol", "max_players", "favicon", "wake_allow"},
                           /*null_is_empty=*/true);
  if (!fields) return std::nullopt;
  ServerOptions o;
  ReadText(errors, *fields, "motd", o.motd);
  ReadText(errors, *fields, "login", o.login);
  ReadText(errors, *fields, "starting_motd", o.starting_motd);
  ReadText(errors, *fields, "not_allowed", o.not_allowed);
  ReadText(errors, *fields, "version_name", o.version_name);
  if (auto p = ReadInt(errors, *fields, "protocol", 0, INT32_MAX)) o.protocol = *p;
  if (auto m = ReadInt(errors, *fields, "max_players", 0, INT32_MAX)) o.max_players = *m;
  ReadFaviconOption(errors, *fields, o);
  ReadWakeAllow(errors, *fields, o);
  if (errors.count() != before) return std::nullopt;
  return o;
}

bool MayWake(const ServerOptions& o, std::string_view player) {
  if (o.wake_allow.empty()) return true;
  const std::string name = Lower(player);
  return std::find(o.wake_allow.begin(), o.wake_allow.end(), name) != o.wake_allow.end();
}

}  // namespace plugins::minecraft
