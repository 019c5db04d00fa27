#include "proxygw-engine/config/loader.h"

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/parser.h>

#include "proxygw-engine/config/field_readers.h"
#include "proxygw-engine/config/ha_section.h"
#include "proxygw-engine/config/semantics.h"
#include "proxygw-engine/config/yaml_reader.h"

namespace config {
namespace {

using common::AddrPort;

constexpr std::string_view kVersion = "v1";

class Loader {
 public:
  Loader(std::string file, std::vector<ConfigError>* errors) : sink_(std::move(file), errors) {}

  Config Load(const YAML::Node& root);

 private:
  void ReadLog(const Fields& top);
  void ReadNetd(const Fields& top);
  void ReadEngine(const Fields& top);
  void ReadPlugins(const Fields& top);
  void ReadTargets(const Fields& top);
  void ReadFrontends(const Fields& top);
  std::optional<Endpoint> ReadEndpoint(const YAML::Node& node, const std::string& path);
  std::optional<Target> ReadTarget(const YAML::Node& node, const std::string& path);
  std::optional<Frontend> ReadFrontend(const YAML::Node& node, const std::string& path);
  // A required list at `key` (empty allowed); nullopt after reporting.
  std::optional<YAML::Node> ReadList(const Fields& f, std::string_view key);

  ErrorSink sink_;
  Config cfg_;
  std::set<std::string> broken_targets_;
};

Config Loader::Load(const YAML::Node& root) {
  cfg_.file = sink_.file();
  auto top = Fields::Read(sink_, root, "", Location{1, 1},
                          {"version", "log", "netd", "engine", "ha", "plugins", "targets", "frontends"});
  if (!top) return std::move(cfg_);
  if (auto v = top->String(sink_, "version", /*required=*/true)) {
    if (*v != kVersion) {
      sink_.Add(LocationOf(top->Get("version")), "version",
                "unsupported version " + Quoted(*v) + " (this proxygw reads \"v1\")");
    } else {
      cfg_.version = *v;
    }
  }
  ReadLog(*top);
  ReadNetd(*top);
  ReadEngine(*top);
  if (cfg_.netd.user == cfg_.engine.user) {
    bool engine_written = top->Has("engine");
    sink_.Add(top->KeyLocation(engine_written ? "engine" : "netd"),
              engine_written ? "engine.user" : "netd.user",
              "the engine and netd must run as different users (both are " +
                  Quoted(cfg_.engine.user) + ")");
  }
  ReadHaSection(sink_, *top, &cfg_.ha);
  ReadPlugins(*top);
  ReadTargets(*top);
  ReadFrontends(*top);
  CheckSemantics(cfg_, sink_, broken_targets_);
  return std::move(cfg_);
}

void Loader::ReadLog(const Fields& top) {
  if (!top.Has("log")) {
    sink_.Add(top.location(), "log", "required field is missing");
    return;
  }
  auto log = Fields::Read(sink_, top.Get("log"), "log", top.KeyLocation("log"),
                          {"output", "level"});
  if (!log) return;
  if (auto out = log->String(sink_, "output", /*required=*/true)) {
    if (*out == "stdout" || *out == "stderr" || out->front() == '/') {
      cfg_.log.output = *out;
    } else {
      sink_.Add(LocationOf(log->Get("output")), "log.output",
                "expected \"stdout\", \"stderr\" or an absolute file path, got " + Quoted(*out));
    }
  }
  if (auto lvl = log->String(sink_, "level", /*required=*/false)) {
    auto parsed = ParseLogLevel(*lvl);
    if (!parsed.ok()) {
      sink_.Add(LocationOf(log->Get("level")), "log.level", parsed.status().message());
    } else {
      cfg_.log.level = *parsed;
    }
  }
}

void Loader::ReadNetd(const Fields& top) {
  if (!top.Has("netd")) return;
  auto f = Fields::Read(sink_, top.Get("netd"), "netd", top.KeyLocation("netd"),
                        {"socket", "user"}, /*null_is_empty=*/true);
  if (!f) return;
  ReadPath(sink_, *f, "socket", /*socket=*/true, &cfg_.netd.socket);
  ReadUser(sink_, *f, &cfg_.netd.user);
}

void Loader::ReadEngine(const Fields& top) {
  if (!top.Has("engine")) return;
  auto f = Fields::Read(sink_, top.Get("engine"), "engine", top.KeyLocation("engine"),
                        {"user", "state_dir"}, /*null_is_empty=*/true);
  if (!f) return;
  ReadUser(sink_, *f, &cfg_.engine.user);
  ReadPath(sink_, *f, "state_dir", /*socket=*/false, &cfg_.engine.state_dir);
}

void Loader::ReadPlugins(const Fields& top) {
  if (!top.Has("plugins")) {
    sink_.Add(top.location(), "plugins", "required field is missing (write \"plugins: {}\" for none)");
    return;
  }
  YAML::Node node = top.Get("plugins");
  if (node.IsNull()) {
    sink_.Add(top.KeyLocation("plugins"), "plugins",
              "expected a mapping, got null (write \"plugins: {}\" for none)");
    return;
  }
  auto f = Fields::ReadOpen(sink_, node, "plugins", top.KeyLocation("plugins"));
  if (!f) return;
  for (const auto& [ns, value] : f->entries()) {
    std::string path = Join("plugins", ns);
    if (!ValidName(ns)) {
      sink_.Add(f->KeyLocation(ns), path, "invalid plugin namespace " + Quoted(ns) + ": use " +
                                              kNameRule);
      continue;
    }
    Options o;
    o.path = path;
    o.location = f->KeyLocation(ns);
    if (value.IsMap()) {
      o.node = value;
      o.location = LocationOf(value);
    } else if (!value.IsNull()) {
      sink_.Add(LocationOf(value), path, "expected a mapping of plugin options, got " +
                                             DescribeNode(value));
      continue;
    }
    cfg_.plugins.emplace_back(ns, std::move(o));
  }
}

std::optional<YAML::Node> Loader::ReadList(const Fields& f, std::string_view key) {
  if (!f.Has(key)) {
    sink_.Add(f.location(), std::string(key),
              "required field is missing (write \"" + std::string(key) + ": []\" for none)");
    return std::nullopt;
  }
  YAML::Node node = f.Get(key);
  if (!node.IsSequence()) {
    sink_.Add(node.IsNull() ? f.KeyLocation(key) : LocationOf(node), std::string(key),
              "expected a list, got " + DescribeNode(node));
    return std::nullopt;
  }
  return node;
}

void Loader::ReadTargets(const Fields& top) {
  auto list = ReadList(top, "targets");
  if (!list) return;
  for (std::size_t i = 0; i < list->size(); ++i) {
    if (auto t = ReadTarget((*list)[i], Index("targets", i))) cfg_.targets.push_back(std::move(*t));
  }
}

void Loader::ReadFrontends(const Fields& top) {
  auto list = ReadList(top, "frontends");
  if (!list) return;
  for (std::size_t i = 0; i < list->size(); ++i) {
    if (auto fe = ReadFrontend((*list)[i], Index("frontends", i))) {
      cfg_.frontends.push_back(std::move(*fe));
    }
  }
}

std::optional<Target> Loader::ReadTarget(const YAML::Node& node, const std::string& path) {
  auto f = Fields::Read(sink_, node, path, LocationOf(node),
                        {"name", "kind", "idle_timeout", "ready_timeout", "endpoints", "options"});
  if (!f) return std::nullopt;
  std::size_t before = sink_.count();
  Target t;
  t.path = path;
  t.location = f->location();
  t.at = LocationsOf(*f);
  auto name = ReadName(sink_, *f, "name");
  auto kind = ReadKind(sink_, *f);
  auto idle = ReadSeconds(sink_, *f, "idle_timeout", true, 0, kMaxIdleTimeoutS);
  auto ready =
      ReadSeconds(sink_, *f, "ready_timeout", false, kDefaultReadyTimeoutS, kMaxReadyTimeoutS);
  t.options = ReadOptions(sink_, *f, "options");
  std::string eps_path = f->PathOf("endpoints");
  YAML::Node eps = f->Get("endpoints");
  if (!eps.IsDefined()) {
    sink_.Add(f->location(), eps_path, "required field is missing");
  } else if (!eps.IsSequence()) {
    sink_.Add(eps.IsNull() ? f->KeyLocation("endpoints") : LocationOf(eps), eps_path,
              "expected a list, got " + DescribeNode(eps));
  } else if (eps.size() == 0) {
    sink_.Add(LocationOf(eps), eps_path, "must list at least one endpoint");
  } else {
    for (std::size_t j = 0; j < eps.size(); ++j) {
      if (auto e = ReadEndpoint(eps[j], Index(eps_path, j))) t.endpoints.push_back(std::move(*e));
    }
  }
  if (!name) return std::nullopt;
  // A target whose name parsed but which has other errors is remembered, so
  // that frontends naming it are not also reported as dangling.
  if (sink_.count() != before) {
    broken_targets_.insert(*name);
    return std::nullopt;
  }
  t.name = *name;
  t.kind = *kind;
  t.idle_timeout_s = *idle;
  t.ready_timeout_s = *ready;
  return t;
}

std::optional<Endpoint> Loader::ReadEndpoint(const YAML::Node& node, const std::string& path) {
  auto f = Fields::Read(sink_, node, path, LocationOf(node),
                        {"name", "protocol", "address", "addresses"});
  if (!f) return std::nullopt;
  Endpoint e;
  e.path = path;
  e.location = f->location();
  e.at = LocationsOf(*f);
  auto name = ReadName(sink_, *f, "name");
  auto proto = ParseProtocol(sink_, *f);
  if (!f->Has("protocol")) sink_.Add(f->location(), f->PathOf("protocol"), "required field is missing");
  bool ok = name && proto;
  if (f->Has("address") && f->Has("addresses")) {
    sink_.Add(f->KeyLocation("addresses"), path,
              "give either \"address\" or \"addresses\", not both");
    ok = false;
  } else if (f->Has("address")) {
    auto a = ParseAddress(sink_, f->Get("address"), f->PathOf("address"), f->KeyLocation("address"),
                          /*endpoint=*/true);
    if (a) e.addresses.push_back(*a); else ok = false;
  } else if (f->Has("addresses")) {
    YAML::Node list = f->Get("addresses");
    std::string lpath = f->PathOf("addresses");
    if (!list.IsSequence()) {
      sink_.Add(list.IsNull() ? f->KeyLocation("addresses") : LocationOf(list), lpath,
                "expected a list, got " + DescribeNode(list));
      ok = false;
    } else if (list.size() == 0 || list.size() > 2) {
      sink_.Add(LocationOf(list), lpath,
                "expected one or two addresses (at most one IPv4 and one IPv6), got " +
                    std::to_string(list.size()));
      ok = false;
    } else {
      for (std::size_t k = 0; k < list.size(); ++k) {
        auto a = ParseAddress(sink_, list[k], Index(lpath, k), LocationOf(list), /*endpoint=*/true);
        if (!a) {
          ok = false;
          continue;
        }
        if (!e.addresses.empty() && e.addresses.front().family() == a->family()) {
          sink_.Add(LocationOf(list[k]), Index(lpath, k),
                    "second " + std::string(common::FamilyName(a->family())) +
                        " address; an endpoint has at most one address per family");
          ok = false;
          continue;
        }
        e.addresses.push_back(*a);
      }
    }
  } else {
    sink_.Add(f->location(), f->PathOf("address"),
              "required field is missing (give \"address\", or \"addresses\" for dual-stack)");
    ok = false;
  }
  if (!ok) return std::nullopt;
  e.name = *name;
  e.protocol = *proto;
  return e;
}

std::optional<Frontend> Loader::ReadFrontend(const YAML::Node& node, const std::string& path) {
  auto f = Fields::Read(sink_, node, path, LocationOf(node),
                        {"name", "kind", "protocol", "listen", "flow_timeout", "target", "options"});
  if (!f) return std::nullopt;
  Frontend fe;
  fe.path = path;
  fe.location = f->location();
  fe.at = LocationsOf(*f);
  auto name = ReadName(sink_, *f, "name");
  auto kind = ReadKind(sink_, *f);
  std::optional<Protocol> proto;
  if (f->Has("protocol")) proto = ParseProtocol(sink_, *f);
  bool proto_ok = !f->Has("protocol") || proto.has_value();
  std::optional<AddrPort> listen;
  if (!f->Has("listen")) {
    sink_.Add(f->location(), f->PathOf("listen"), "required field is missing");
  } else {
    listen = ParseAddress(sink_, f->Get("listen"), f->PathOf("listen"), f->KeyLocation("listen"),
                          /*endpoint=*/false);
  }
  auto flow = ReadSeconds(sink_, *f, "flow_timeout", true, 0, kMaxFlowTimeoutS);
  auto target = ReadPair(sink_, *f, "target", "\"target:endpoint\", e.g. \"backend:http\"");
  fe.options = ReadOptions(sink_, *f, "options");
  if (!name || !kind || !proto_ok || !listen || !flow || !target) return std::nullopt;
  fe.name = *name;
  fe.kind = *kind;
  fe.listen = *listen;
  fe.flow_timeout_s = *flow;
  fe.target = target->first;
  fe.endpoint = target->second;
  // Without a protocol, CheckSemantics takes the endpoint's.
  if (proto) fe.protocol = *proto;
  fe.protocol_explicit = proto.has_value();
  return fe;
}

// Counts the documents of a YAML stream, up to 2. yaml-cpp 0.7's own LoadAll
// loops forever on some invalid input (a lone ",": jbeder/yaml-cpp#1040, fixed
// after 0.7), so the stream is walked here with a bound instead. Throws what
// the parser throws.
int CountDocuments(std::string_view yaml) {
  struct Ignore : YAML::EventHandler {
    void OnDocumentStart(const YAML::Mark&) override {}
    void OnDocumentEnd() override {}
    void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
    void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
    void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  const std::string&) override {}
    void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                         YAML::EmitterStyle::value) override {}
    void OnSequenceEnd() override {}
    void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                    YAML::EmitterStyle::value) override {}
    void OnMapEnd() override {}
  } ignore;
  std::istringstream in{std::string(yaml)};
  YAML::Parser parser(in);
  int docs = 0;
  while (docs < 2 && parser.HandleNextDocument(ignore)) ++docs;
  return docs;
}

}  // namespace
}  // namespace config

namespace config {

std::string ConfigError::ToString() const {
  std::string out = file;
  if (location.line > 0) {
    out += ":" + std::to_string(location.line) + ":" + std::to_string(location.column);
  }
  out += ": ";
  if (!path.empty()) out += path + ": ";
  out += message;
  return out;
}

std::string LoadResult::ErrorText() const {
  std::string out;
  for (const auto& e : errors) out += e.ToString() + "\n";
  return out;
}

LoadResult LoadConfigString(std::string_view yaml, const std::string& file) {
  LoadResult r;
  ErrorSink sink(file, &r.errors);
  if (yaml.size() > kMaxConfigBytes) {
    sink.Add({}, "", "file is " + std::to_string(yaml.size()) + " bytes; the limit is " +
                         std::to_string(kMaxConfigBytes));
    return r;
  }
  if (yaml.find('\0') != std::string_view::npos) {
    sink.Add({}, "", "file contains a NUL byte; expected YAML text");
    return r;
  }
  YAML::Node doc;
  try {
    int docs = CountDocuments(yaml);
    if (docs > 1) {
      sink.Add({}, "", "file holds more than one YAML document; expected exactly one");
      return r;
    }
    if (docs == 1) doc = YAML::Load(std::string(yaml));
  } catch (const YAML::DeepRecursion& e) {
    sink.Add({e.mark.line + 1, e.mark.column + 1}, "", "invalid YAML: nesting is too deep");
    return r;
  } catch (const YAML::Exception& e) {
    Location at;
    if (!e.mark.is_null()) at = {e.mark.line + 1, e.mark.column + 1};
    sink.Add(at, "", "invalid YAML: " + e.msg);
    return r;
  }
  if (!doc.IsDefined() || doc.IsNull()) {
    sink.Add({}, "", "file is empty; expected a mapping with version, log, plugins, targets "
                     "and frontends (see configs/example.yaml)");
    return r;
  }
  Loader loader(file, &r.errors);
  Config cfg = loader.Load(doc);
  SortErrors(&r.errors);
  if (r.errors.empty()) r.config = std::move(cfg);
  return r;
}

void SortErrors(std::vector<ConfigError>* errors) {
  auto key = [](const ConfigError& e) {
    return std::make_pair(e.location.line == 0 ? INT_MAX : e.location.line, e.location.column);
  };
  std::stable_sort(errors->begin(), errors->end(),
                   [&](const ConfigError& a, const ConfigError& b) { return key(a) < key(b); });
}

LoadResult LoadConfigFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    LoadResult r;
    r.errors.push_back({path, {}, "", std::string("cannot read file: ") + std::strerror(errno)});
    return r;
  }
  std::string text;
  char buf[65536];
  while (in.read(buf, sizeof buf) || in.gcount() > 0) {
    text.append(buf, static_cast<std::size_t>(in.gcount()));
    if (text.size() > kMaxConfigBytes) break;
  }
  if (in.bad()) {
    LoadResult r;
    r.errors.push_back({path, {}, "", std::string("cannot read file: ") + std::strerror(errno)});
    return r;
  }
  return LoadConfigString(text, path);
}

}  // namespace config
