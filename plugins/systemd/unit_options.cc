#include "plugins/systemd/unit_options.h"

#include <algorithm>
#include <cctype>

#include "plugins/static/backend_options.h"

namespace plugins::systemd {
namespace {

constexpr std::size_t kMaxUnitName = 255;  // systemd's UNIT_NAME_MAX, less its NUL
constexpr std::uint32_t kMaxStopTimeoutS = 3600;
constexpr std::string_view kSuffix = ".service";

bool IsNamePart(std::string_view s) {
  return !s.empty() && std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == ':' || c == '_' || c == '.' ||
           c == '\\' || c == '-';
  });
}

}  // namespace

bool IsServiceUnitName(std::string_view name) {
  if (name.size() > kMaxUnitName || name.size() <= kSuffix.size() ||
      name.substr(name.size() - kSuffix.size()) != kSuffix) {
    return false;
  }
  std::string_view stem = name.substr(0, name.size() - kSuffix.size());
  std::size_t at = stem.find('@');
  if (at == std::string_view::npos) return IsNamePart(stem);
  return IsNamePart(stem.substr(0, at)) && IsNamePart(stem.substr(at + 1));
}

std::optional<UnitOptions> ReadUnitOptions(const config::Target& target, config::ErrorSink& errors) {
  const config::Options& o = target.options;
  std::size_t before = errors.count();
  auto f = config::Fields::Read(errors, o.node, o.path, o.location, {"unit", "stop_timeout"},
                                /*null_is_empty=*/true);
  if (!f) return std::nullopt;
  UnitOptions options;
  auto unit = f->String(errors, "unit", /*required=*/true);
  if (unit && !IsServiceUnitName(*unit)) {
    errors.Add(config::LocationOf(f->Get("unit")), f->PathOf("unit"),
               "expected a service unit name such as \"minecraft.service\" (letters, digits and "
               "\":_.\\-\", an optional @instance), got \"" + *unit + "\"");
  }
  if (auto stop = static_ns::ReadSeconds(errors, *f, "stop_timeout", kMaxStopTimeoutS, "1h")) {
    options.stop_timeout = *stop;
  }
  if (!unit || errors.count() != before) return std::nullopt;
  options.unit = *unit;
  return options;
}

}  // namespace plugins::systemd
