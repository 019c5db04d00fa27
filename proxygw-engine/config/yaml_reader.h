// Typed, located reading of yaml-cpp nodes for the config loader and for plugin
// options: mappings with a closed key set (unknown and duplicate keys are
// errors), strings that really are strings, and errors collected with the
// file's line and column instead of thrown. Engine-side only.
#pragma once

#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <yaml-cpp/yaml.h>

#include "proxygw-engine/config/loader.h"

namespace config {

// What a scalar means under YAML 1.1's implicit typing (what PyYAML, and so
// the schema test, sees): a plain `123` is an integer, `yes` a boolean, `~` null.
enum class ScalarType { kString, kNull, kBool, kInt, kFloat, kTimestamp, kOther };
ScalarType ResolveScalar(const YAML::Node& node);

// "a mapping", "a list", "null", "the integer 123", "the string \"x\"".
std::string DescribeNode(const YAML::Node& node);

Location LocationOf(const YAML::Node& node);

// "path.key", or "key" when path is empty.
std::string Join(std::string_view path, std::string_view key);
// "path[i]"
std::string Index(std::string_view path, std::size_t i);

class ErrorSink {
 public:
  ErrorSink(std::string file, std::vector<ConfigError>* errors)
      : file_(std::move(file)), errors_(errors) {}

  // Records an error. After kMaxErrors, further errors are counted, and one
  // last line says how many were left out.
  void Add(Location at, std::string path, std::string message);
  const std::string& file() const { return file_; }
  // Errors reported so far, including those left out.
  std::size_t count() const { return reported_; }

  // Charges `nodes` against the work budget, which bounds the loader's time on
  // a file of aliases that expand to millions of nodes. False, having reported
  // it once, when the budget is spent; the caller then stops reading.
  bool Spend(std::size_t nodes);

  static constexpr std::size_t kMaxErrors = 100;
  static constexpr std::size_t kNodeBudget = 1'000'000;

 private:
  std::string file_;
  std::vector<ConfigError>* errors_;
  std::size_t reported_ = 0;
  std::size_t spent_ = 0;
};

// The fields of one YAML mapping whose keys were checked against a closed set.
class Fields {
 public:
  // Reads `node` as a mapping at `path`. Reports (and skips) keys that are not
  // strings, not in `allowed`, or repeated. Returns nullopt, having reported
  // why, when `node` is not a mapping. A null node is an empty mapping only
  // when `null_is_empty`.
  static std::optional<Fields> Read(ErrorSink& sink, const YAML::Node& node, std::string path,
                                    Location where, std::initializer_list<std::string_view> allowed,
                                    bool null_is_empty = false);
  // As Read, for a mapping whose keys are free (a plugin's namespaces): only
  // non-string and duplicate keys are reported.
  static std::optional<Fields> ReadOpen(ErrorSink& sink, const YAML::Node& node, std::string path,
                                        Location where, bool null_is_empty = false);

  // The value of `key`, or an invalid (IsDefined() false) node.
  YAML::Node Get(std::string_view key) const;
  bool Has(std::string_view key) const { return Get(key).IsDefined(); }
  Location KeyLocation(std::string_view key) const;
  const std::string& path() const { return path_; }
  Location location() const { return location_; }
  std::string PathOf(std::string_view key) const { return Join(path_, key); }
  const std::vector<std::pair<std::string, YAML::Node>>& entries() const { return entries_; }

  // A string field. Missing: reported when `required`; nullopt. Not a string
  // scalar (a number, boolean, null, list...): reported; nullopt. An empty
  // string is reported as an error unless `allow_empty`.
  std::optional<std::string> String(ErrorSink& sink, std::string_view key, bool required,
                                    bool allow_empty = false) const;

 private:
  // `allowed` null: any string key.
  static std::optional<Fields> ReadAny(ErrorSink& sink, const YAML::Node& node, std::string path,
                                       Location where,
                                       const std::initializer_list<std::string_view>* allowed,
                                       bool null_is_empty);

  std::string path_;
  Location location_;
  std::vector<std::pair<std::string, YAML::Node>> entries_;
  std::vector<std::pair<std::string, Location>> key_locations_;
};

// A string scalar at `path` (list items, for example). Reports and returns
// nullopt when the node is not a string. yaml-cpp places a null value at the
// next token, so a null is reported at `if_null` (its key, usually).
std::optional<std::string> ReadString(ErrorSink& sink, const YAML::Node& node,
                                      const std::string& path, Location if_null = {});

}  // namespace config
