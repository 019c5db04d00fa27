#include "proxygw-engine/config/yaml_reader.h"

#include "common/field_path.h"

#include <algorithm>
#include <regex>

namespace config {
namespace {

// PyYAML's implicit resolvers (yaml/resolver.py, YAML 1.1), so that the loader
// and the schema test agree on what a plain scalar is.
const std::regex& BoolRe() {
  static const std::regex re("yes|Yes|YES|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF");
  return re;
}
const std::regex& IntRe() {
  static const std::regex re(
      "[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+"
      "|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+");
  return re;
}
const std::regex& FloatRe() {
  static const std::regex re(
      "[-+]?(?:[0-9][0-9_]*)\\.[0-9_]*(?:[eE][-+][0-9]+)?|\\.[0-9][0-9_]*(?:[eE][-+][0-9]+)?"
      "|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\\.[0-9_]*|[-+]?\\.(?:inf|Inf|INF)|\\.(?:nan|NaN|NAN)");
  return re;
}
const std::regex& NullRe() {
  static const std::regex re("~|null|Null|NULL|");
  return re;
}
const std::regex& TimestampRe() {
  static const std::regex re(
      "[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]"
      "|[0-9][0-9][0-9][0-9]-[0-9][0-9]?-[0-9][0-9]?(?:[Tt]|[ \\t]+)[0-9][0-9]?:[0-9][0-9]:[0-9][0-9]"
      "(?:\\.[0-9]*)?(?:[ \\t]*(?:Z|[-+][0-9][0-9]?(?::[0-9][0-9])?))?");
  return re;
}

std::size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

std::string AllowedList(std::initializer_list<std::string_view> allowed) {
  std::string out;
  for (auto k : allowed) {
    if (!out.empty()) out += ", ";
    out += k;
  }
  return out;
}

}  // namespace

ScalarType ResolveScalar(const YAML::Node& node) {
  if (node.IsNull()) return ScalarType::kNull;
  if (!node.IsScalar()) return ScalarType::kOther;
  const std::string& tag = node.Tag();
  if (tag == "!" || tag == "tag:yaml.org,2002:str") return ScalarType::kString;  // quoted or block
  if (tag == "tag:yaml.org,2002:int") return ScalarType::kInt;
  if (tag == "tag:yaml.org,2002:bool") return ScalarType::kBool;
  if (tag == "tag:yaml.org,2002:float") return ScalarType::kFloat;
  if (tag == "tag:yaml.org,2002:null") return ScalarType::kNull;
  if (tag != "?") return ScalarType::kOther;  // a custom tag
  const std::string& s = node.Scalar();
  if (std::regex_match(s, NullRe())) return ScalarType::kNull;
  if (std::regex_match(s, BoolRe())) return ScalarType::kBool;
  if (std::regex_match(s, IntRe())) return ScalarType::kInt;
  if (std::regex_match(s, FloatRe())) return ScalarType::kFloat;
  if (std::regex_match(s, TimestampRe())) return ScalarType::kTimestamp;
  return ScalarType::kString;
}

std::string DescribeNode(const YAML::Node& node) {
  if (!node.IsDefined()) return "nothing";
  if (node.IsMap()) return "a mapping";
  if (node.IsSequence()) return "a list";
  std::string text = node.IsScalar() ? node.Scalar().substr(0, 40) : std::string();
  switch (ResolveScalar(node)) {
    case ScalarType::kNull:
      return "null";
    case ScalarType::kBool:
      return "the boolean " + text;
    case ScalarType::kInt:
      return "the number " + text;
    case ScalarType::kFloat:
      return "the number " + text;
    case ScalarType::kTimestamp:
      return "the date " + text;
    case ScalarType::kOther:
      return "a value tagged " + node.Tag();
    case ScalarType::kString:
      break;
  }
  return "the string \"" + text + "\"";
}

Location LocationOf(const YAML::Node& node) {
  if (!node.IsDefined()) return {};
  const YAML::Mark m = node.Mark();
  if (m.line < 0) return {};
  return {m.line + 1, m.column + 1};
}

std::string Join(std::string_view path, std::string_view key) { return common::JoinPath(path, key); }

std::string Index(std::string_view path, std::size_t i) { return common::IndexPath(path, i); }

void ErrorSink::Add(Location at, std::string path, std::string message) {
  ++reported_;
  if (reported_ <= kMaxErrors) {
    errors_->push_back(ConfigError{file_, at, std::move(path), std::move(message)});
  } else if (reported_ == kMaxErrors + 1) {
    errors_->push_back(ConfigError{file_, {}, "",
                                   "too many errors; the rest are not shown (fix these first)"});
  }
}

bool ErrorSink::Spend(std::size_t nodes) {
  if (spent_ > kNodeBudget) return false;
  spent_ += nodes;
  if (spent_ > kNodeBudget) {
    Add({}, "", "the file expands to more than " + std::to_string(kNodeBudget) +
                    " YAML nodes (aliases?); refusing to read further");
    return false;
  }
  return true;
}

std::optional<Fields> Fields::ReadAny(ErrorSink& sink, const YAML::Node& node, std::string path,
                                      Location where,
                                      const std::initializer_list<std::string_view>* allowed,
                                      bool null_is_empty) {
  Fields f;
  f.path_ = std::move(path);
  f.location_ = node.IsDefined() && !node.IsNull() ? LocationOf(node) : where;
  if (node.IsNull() && null_is_empty) return f;
  if (!sink.Spend(node.size() + 1)) return std::nullopt;
  if (!node.IsMap()) {
    sink.Add(f.location_, f.path_, "expected a mapping, got " + DescribeNode(node));
    return std::nullopt;
  }
  for (const auto& kv : node) {
    const YAML::Node& key = kv.first;
    Location key_loc = LocationOf(key);
    if (ResolveScalar(key) != ScalarType::kString) {
      sink.Add(key_loc, f.path_, "keys must be strings, got " + DescribeNode(key));
      continue;
    }
    const std::string& name = key.Scalar();
    if (allowed != nullptr &&
        std::find(allowed->begin(), allowed->end(), name) == allowed->end()) {
      std::string msg = "unknown key \"" + name.substr(0, 64) + "\"";
      std::string_view best;
      std::size_t best_d = 3;  // suggest only close matches
      for (auto k : *allowed) {
        std::size_t d = EditDistance(name, k);
        if (d < best_d) best_d = d, best = k;
      }
      if (allowed->size() == 0) {
        msg += ": nothing may be set here";
      } else if (!best.empty()) {
        msg += " (did you mean \"" + std::string(best) + "\"?)";
      } else {
        msg += " (expected one of: " + AllowedList(*allowed) + ")";
      }
      sink.Add(key_loc, f.path_, std::move(msg));
      continue;
    }
    auto dup = std::find_if(f.key_locations_.begin(), f.key_locations_.end(),
                            [&](const auto& e) { return e.first == name; });
    if (dup != f.key_locations_.end()) {
      sink.Add(key_loc, Join(f.path_, name),
               "duplicate key (first written at line " + std::to_string(dup->second.line) + ")");
      continue;
    }
    f.entries_.emplace_back(name, kv.second);
    f.key_locations_.emplace_back(name, key_loc);
  }
  return f;
}

std::optional<Fields> Fields::Read(ErrorSink& sink, const YAML::Node& node, std::string path,
                                   Location where, std::initializer_list<std::string_view> allowed,
                                   bool null_is_empty) {
  return ReadAny(sink, node, std::move(path), where, &allowed, null_is_empty);
}

std::optional<Fields> Fields::ReadOpen(ErrorSink& sink, const YAML::Node& node, std::string path,
                                       Location where, bool null_is_empty) {
  return ReadAny(sink, node, std::move(path), where, nullptr, null_is_empty);
}

YAML::Node Fields::Get(std::string_view key) const {
  for (const auto& [k, v] : entries_) {
    if (k == key) return v;
  }
  return YAML::Node(YAML::NodeType::Undefined);
}

Location Fields::KeyLocation(std::string_view key) const {
  for (const auto& [k, loc] : key_locations_) {
    if (k == key) return loc;
  }
  return location_;
}

std::optional<std::string> Fields::String(ErrorSink& sink, std::string_view key, bool required,
                                          bool allow_empty) const {
  YAML::Node v = Get(key);
  if (!v.IsDefined()) {
    if (required) sink.Add(location_, PathOf(key), "required field is missing");
    return std::nullopt;
  }
  auto s = ReadString(sink, v, PathOf(key), KeyLocation(key));
  if (s && s->empty() && !allow_empty) {
    sink.Add(LocationOf(v), PathOf(key), "must not be empty");
    return std::nullopt;
  }
  return s;
}

std::optional<std::string> ReadString(ErrorSink& sink, const YAML::Node& node,
                                      const std::string& path, Location if_null) {
  if (ResolveScalar(node) == ScalarType::kString) return node.Scalar();
  std::string msg = "expected a string, got " + DescribeNode(node);
  if (node.IsScalar() && !node.IsNull()) msg += " (quote it to use it as text)";
  sink.Add(node.IsNull() ? if_null : LocationOf(node), path, std::move(msg));
  return std::nullopt;
}

}  // namespace config
