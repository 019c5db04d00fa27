#include "plugins/static/backend_options.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <map>

#include "proxygw-engine/config/duration.h"

namespace plugins::static_ns {
namespace {

// What a backend inherits of the engine's environment; the rest (the
// service manager's NOTIFY_SOCKET, INVOCATION_ID, LISTEN_FDS...) stays out.
constexpr const char* kInherited[] = {"HOME", "USER", "LOGNAME", "LANG", "TZ"};
constexpr const char* kDefaultPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

const std::vector<std::pair<std::string, YAML::Node>> kNoEntries;

bool IsVariableName(const std::string& name) {
  if (name.empty() || std::isdigit(static_cast<unsigned char>(name[0]))) return false;
  return std::all_of(name.begin(), name.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

}  // namespace

std::optional<std::chrono::seconds> ReadSeconds(config::ErrorSink& errors, const config::Fields& f,
                                                std::string_view key, std::uint32_t max_s,
                                                const char* max_text) {
  auto s = f.String(errors, key, /*required=*/false);
  if (!s) return std::nullopt;
  auto d = config::ParseGoDuration(*s);
  auto at = config::LocationOf(f.Get(key));
  if (!d.ok()) {
    errors.Add(at, f.PathOf(key), d.status().message());
  } else if (d->count() < 1'000'000'000 || d->count() % 1'000'000'000 != 0 ||
             d->count() / 1'000'000'000 > max_s) {
    errors.Add(
        at, f.PathOf(key),
        std::string("must be whole seconds from 1s to ") + max_text + ", got \"" + *s + "\"");
  } else {
    return std::chrono::seconds(d->count() / 1'000'000'000);
  }
  return std::nullopt;
}

EnvVars ReadEnvironment(config::ErrorSink& errors, const config::Fields& f) {
  EnvVars vars;
  if (!f.Has("environment")) return vars;
  auto env = config::Fields::ReadOpen(errors, f.Get("environment"), f.PathOf("environment"),
                                      f.KeyLocation("environment"), /*null_is_empty=*/true);
  for (const auto& [name, value] : env ? env->entries() : kNoEntries) {
    std::string path = env->PathOf(name);
    if (!IsVariableName(name) || name.rfind("PROXYGW_", 0) == 0) {
      errors.Add(env->KeyLocation(name), path,
                 "not a usable variable name (letters, digits and _, not starting with a "
                 "digit; PROXYGW_* are set by proxygw)");
      continue;
    }
    if (auto v = config::ReadString(errors, value, path, env->KeyLocation(name))) {
      vars.emplace_back(name, *v);
    }
  }
  return vars;
}

std::vector<std::string> BackendEnvironment(const EnvVars& extra) {
  std::map<std::string, std::string> vars;
  const char* path = std::getenv("PATH");
  vars["PATH"] = path ? path : kDefaultPath;
  for (const char* name : kInherited) {
    if (const char* v = std::getenv(name)) vars[name] = v;
  }
  for (const auto& [name, value] : extra) vars[name] = value;
  std::vector<std::string> env;
  for (const auto& [name, value] : vars) env.push_back(name + "=" + value);
  return env;
}

}  // namespace plugins::static_ns
