// The config loader: one test per rule and message, pinned exactly, plus the
// hostile inputs a loader meets (empty, not YAML, wrong shapes, huge numbers,
// duplicate keys, 1 MB of junk, alias bombs).
#include "proxygw-engine/config/loader.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace config {
namespace {

// The head every case below shares: lines 1-3.
constexpr char kHead[] =
    "version: v1\n"
    "log: {output: stderr}\n"
    "plugins: {static: {}}\n";

// A valid target on lines 4-9 and a valid frontend on lines 10-11.
constexpr char kTarget[] =
    "targets:\n"
    "  - name: backend\n"
    "    kind: static:none\n"
    "    idle_timeout: 300s\n"
    "    endpoints:\n"
    "      - {name: http, protocol: tcp, address: \"198.18.0.2:8080\"}\n";
constexpr char kFrontend[] =
    "frontends:\n"
    "  - {name: public-http, kind: \"static:always\", listen: \"0.0.0.0:80\", flow_timeout: 60s, "
    "target: \"backend:http\"}\n";

std::vector<std::string> Errors(const std::string& yaml) {
  LoadResult r = LoadConfigString(yaml, "t.yaml");
  std::vector<std::string> out;
  for (const auto& e : r.errors) out.push_back(e.ToString());
  EXPECT_EQ(r.ok(), out.empty());
  EXPECT_EQ(r.config.has_value(), out.empty());
  return out;
}

using Lines = std::vector<std::string>;

Config Load(const std::string& yaml) {
  LoadResult r = LoadConfigString(yaml, "t.yaml");
  EXPECT_TRUE(r.ok()) << r.ErrorText();
  return r.config.value_or(Config{});
}

// --- The model ------------------------------------------------------------

TEST(ConfigLoad, UpstreamFixtureLoadsWithDefaults) {
  // upstream-behaviour.md section 14, intent 1.
  Config c = Load(std::string(kHead) + kTarget + kFrontend);
  EXPECT_EQ(c.version, "v1");
  EXPECT_EQ(c.log.output, "stderr");
  EXPECT_EQ(c.log.level, LogLevel::kInfo);
  EXPECT_EQ(c.netd.socket, "/run/proxygw-netd/netd.sock");
  EXPECT_EQ(c.netd.user, "proxygw-netd");
  EXPECT_EQ(c.engine.user, "proxygw");
  EXPECT_EQ(c.engine.state_dir, "/run/proxygw");
  ASSERT_EQ(c.plugins.size(), 1u);
  EXPECT_EQ(c.plugins[0].first, "static");
  ASSERT_EQ(c.targets.size(), 1u);
  const Target& t = c.targets[0];
  EXPECT_EQ(t.name, "backend");
  EXPECT_EQ(t.kind.ToString(), "static:none");
  EXPECT_EQ(t.idle_timeout_s, 300u);
  EXPECT_EQ(t.ready_timeout_s, kDefaultReadyTimeoutS);
  ASSERT_EQ(t.endpoints.size(), 1u);
  EXPECT_EQ(t.endpoints[0].addresses.at(0).ToString(), "198.18.0.2:8080");
  ASSERT_EQ(c.frontends.size(), 1u);
  const Frontend& f = c.frontends[0];
  EXPECT_EQ(f.name, "public-http");
  EXPECT_EQ(f.protocol, Protocol::kTcp);
  EXPECT_FALSE(f.protocol_explicit);
  EXPECT_EQ(f.flow_timeout_s, 60u);
  EXPECT_EQ(f.target, "backend");
  EXPECT_EQ(f.endpoint, "http");
  EXPECT_EQ(f.location.line, 11);
}

// Bug: the unit (150 s) and the supervisor (120 s) gave a drain less time
// than a stop_timeout may take (up to 1 h).
TEST(ConfigLoad, ShutdownBudgetIsTheLongestStopTimeoutPlusSlack) {
  EXPECT_EQ(Load(std::string(kHead) + kTarget + kFrontend).ShutdownBudget(),
            std::chrono::seconds(10) + kShutdownSlack);
  std::string slow =
      "  - name: slow\n"
      "    kind: static:cmd\n"
      "    idle_timeout: 300s\n"
      "    endpoints: [{name: g, protocol: tcp, address: \"198.18.0.3:25565\"}]\n"
      "    options: {command: server, stop_timeout: 15m}\n";
  EXPECT_EQ(Load(std::string(kHead) + kTarget + slow + kFrontend).ShutdownBudget(),
            std::chrono::minutes(15) + kShutdownSlack);
}

TEST(ConfigLoad, ProtocolComesFromTheEndpoint) {
  Config c = Load(std::string(kHead) +
                  "targets: [{name: g, kind: 'static:none', idle_timeout: 1m, endpoints: "
                  "[{name: e, protocol: udp, address: '198.18.0.2:2456'}]}]\n"
                  "frontends: [{name: f, kind: 'static:always', listen: '0.0.0.0:2456', "
                  "flow_timeout: 1m, target: 'g:e'}]\n");
  ASSERT_EQ(c.frontends.size(), 1u);
  EXPECT_EQ(c.frontends[0].protocol, Protocol::kUdp);
}

TEST(ConfigLoad, DualStackFrontendHasOneMappingPerFamily) {
  Config c = Load(std::string(kHead) +
                  "targets: [{name: w, kind: 'static:none', idle_timeout: 1m, endpoints: "
                  "[{name: e, protocol: tcp, addresses: ['198.18.0.2:80', '[2001:db8::2]:80']}]}]\n"
                  "frontends: [{name: f, kind: 'static:always', listen: '[::]:443', "
                  "flow_timeout: 2m, target: 'w:e'}]\n");
  ASSERT_EQ(c.frontends.size(), 1u);
  EXPECT_TRUE(c.frontends[0].DualStack());
  auto m = c.MappingsOf(c.frontends[0]);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].listen.ToString(), "0.0.0.0:443");
  EXPECT_EQ(m[0].destination.ToString(), "198.18.0.2:80");
  EXPECT_EQ(m[1].listen.ToString(), "[::]:443");
  EXPECT_EQ(m[1].destination.ToString(), "[2001:db8::2]:80");
  EXPECT_EQ(m[1].flow_timeout_s, 120u);
  EXPECT_EQ(m[1].protocol, Protocol::kTcp);
}

TEST(ConfigLoad, SpecificListenMapsToItsFamily) {
  Config c = Load(std::string(kHead) +
                  "targets: [{name: w, kind: 'static:none', idle_timeout: 1m, endpoints: "
                  "[{name: e, protocol: tcp, addresses: ['[2001:db8::2]:80', '198.18.0.2:80']}]}]\n"
                  "frontends: [{name: f, kind: 'static:always', listen: '[2001:db8::1]:80', "
                  "flow_timeout: 2m, target: 'w:e'}]\n");
  auto m = c.MappingsOf(c.frontends.at(0));
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].destination.ToString(), "[2001:db8::2]:80");
}

TEST(KindRef, RendersAndParsesBack) {
  // Intent 3: static:drop renders to text and parses back unchanged.
  Config c = Load(std::string(kHead) +
                  "targets: [{name: t, kind: 'static:drop', idle_timeout: 1m, endpoints: "
                  "[{name: e, protocol: tcp, address: '198.18.0.2:80'}]}]\nfrontends: []\n");
  EXPECT_EQ(c.targets.at(0).kind.ns, "static");
  EXPECT_EQ(c.targets.at(0).kind.name, "drop");
  EXPECT_EQ(c.targets.at(0).kind.ToString(), "static:drop");
}

TEST(LogLevel, ParsesNamesAndOffsetsLikeSlog) {
  EXPECT_EQ(*ParseLogLevel("DEBUG"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("info"), LogLevel::kInfo);
  EXPECT_EQ(*ParseLogLevel("Warn"), LogLevel::kWarn);
  EXPECT_EQ(*ParseLogLevel("ERROR"), LogLevel::kError);
  EXPECT_EQ(*ParseLogLevel("INFO+2"), LogLevel::kWarn);
  EXPECT_EQ(*ParseLogLevel("INFO-2"), LogLevel::kInfo);
  EXPECT_EQ(*ParseLogLevel("DEBUG-3"), LogLevel::kDebug);
  EXPECT_EQ(*ParseLogLevel("WARN+4"), LogLevel::kError);
  EXPECT_EQ(ParseLogLevel("ERROR+1").status().message(),
            "log level \"ERROR+1\" is above ERROR and would hide every message");
  const std::string bad =
      "\": expected DEBUG, INFO, WARN or ERROR, optionally with an offset such as INFO+2";
  EXPECT_EQ(ParseLogLevel("VERBOSE").status().message(), "invalid log level \"VERBOSE" + bad);
  EXPECT_EQ(ParseLogLevel("INFO+").status().message(), "invalid log level \"INFO+" + bad);
  EXPECT_EQ(ParseLogLevel("INFO+x").status().message(), "invalid log level \"INFO+x" + bad);
  EXPECT_EQ(ParseLogLevel("").status().message(), "invalid log level \"" + bad);
}

// --- Whole-file problems ---------------------------------------------------

TEST(ConfigLoad, EmptyFile) {
  const char msg[] =
      "t.yaml: file is empty; expected a mapping with version, log, plugins, targets and "
      "frontends (see configs/example.yaml)";
  EXPECT_EQ(Errors(""), Lines{msg});
  EXPECT_EQ(Errors("# only a comment\n\n"), Lines{msg});
}

TEST(ConfigLoad, NotYaml) {
  EXPECT_EQ(Errors("version: v1\nlog: {output: stderr\n"),
            Lines{"t.yaml:3:1: invalid YAML: end of map flow not found"});
  EXPECT_EQ(Errors("a: b: c\n"),
            Lines{"t.yaml:1:5: invalid YAML: illegal map value"});
}

TEST(ConfigLoad, TopLevelMustBeAMapping) {
  EXPECT_EQ(Errors("- version: v1\n"), Lines{"t.yaml:1:1: expected a mapping, got a list"});
  EXPECT_EQ(Errors("proxygw\n"), Lines{"t.yaml:1:1: expected a mapping, got the string \"proxygw\""});
  EXPECT_EQ(Errors("42\n"), Lines{"t.yaml:1:1: expected a mapping, got the number 42"});
}

TEST(ConfigLoad, OneDocumentOnly) {
  EXPECT_EQ(Errors(std::string(kHead) + "targets: []\nfrontends: []\n---\nversion: v1\n"),
            Lines{"t.yaml: file holds more than one YAML document; expected exactly one"});
}

TEST(ConfigLoad, LoneCommaDoesNotHang) {
  // yaml-cpp 0.7's LoadAll loops forever on "," (jbeder/yaml-cpp#1040); found
  // by fuzz_config_loader.
  EXPECT_EQ(Errors(","),
            Lines{"t.yaml: file holds more than one YAML document; expected exactly one"});
}

TEST(ConfigLoad, NulByteIsRefused) {
  std::string yaml = std::string(kHead) + "targets: []\nfrontends: []\n";
  yaml.insert(5, 1, '\0');
  EXPECT_EQ(Errors(yaml), Lines{"t.yaml: file contains a NUL byte; expected YAML text"});
}

TEST(ConfigLoad, OversizeFileIsRefusedBeforeParsing) {
  std::string yaml(kMaxConfigBytes + 1, '#');
  EXPECT_EQ(Errors(yaml), Lines{"t.yaml: file is 4194305 bytes; the limit is 4194304"});
}

TEST(ConfigLoad, MegabyteOfRandomJunkIsOneError) {
  std::mt19937 rng(42);
  std::string junk(1 << 20, '\0');
  for (char& c : junk) c = static_cast<char>(1 + rng() % 255);  // no NUL: reach the parser
  LoadResult r = LoadConfigString(junk, "junk.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].message.rfind("invalid YAML: ", 0), 0u) << r.errors[0].ToString();
  EXPECT_GT(r.errors[0].location.line, 0);
}

TEST(ConfigLoad, MegabyteOfPlausibleTextIsLocatedErrors) {
  std::string text;
  while (text.size() < (1 << 20)) text += "lorem ipsum dolor sit amet\n";
  LoadResult r = LoadConfigString(text, "junk.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_LE(r.errors.size(), 101u);
}

TEST(ConfigLoad, DeepNestingIsAnError) {
  EXPECT_EQ(Errors(std::string(100000, '[')),
            Lines{"t.yaml:1:1: invalid YAML: nesting is too deep"});
}

TEST(ConfigLoad, AliasBombIsBoundedAndReported) {
  // Each level multiplies the frontends by 10: 10^7 entries if expanded.
  std::string yaml = std::string(kHead) + "targets: []\nx0: &a0 {name: f}\n";
  for (int i = 1; i <= 7; ++i) {
    yaml += "x" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int j = 0; j < 10; ++j) yaml += std::string(j ? "," : "") + "*a" + std::to_string(i - 1);
    yaml += "]\n";
  }
  yaml += "frontends: *a7\n";
  LoadResult r = LoadConfigString(yaml, "t.yaml");
  ASSERT_FALSE(r.ok());
  EXPECT_LE(r.errors.size(), 101u);
}

TEST(ConfigLoad, TooManyErrorsAreCutShort) {
  std::string yaml = std::string(kHead) + "targets: []\nfrontends:\n";
  for (int i = 0; i < 300; ++i) yaml += "  - {}\n";
  LoadResult r = LoadConfigString(yaml, "t.yaml");
  ASSERT_EQ(r.errors.size(), 101u);
  EXPECT_EQ(r.errors.back().ToString(),
            "t.yaml: too many errors; the rest are not shown (fix these first)");
}

TEST(ConfigLoadFile, MissingFileNamesTheFile) {
  LoadResult r = LoadConfigFile("/nonexistent/proxygw.yaml");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].ToString(),
            "/nonexistent/proxygw.yaml: cannot read file: No such file or directory");
}

TEST(ConfigLoadFile, DirectoryIsNotAConfig) {
  LoadResult r = LoadConfigFile("/");
  ASSERT_EQ(r.errors.size(), 1u);
  EXPECT_EQ(r.errors[0].ToString(), "/: cannot read file: Is a directory");
}

// --- Top level and sections ------------------------------------------------

TEST(ConfigLoad, MissingTopLevelFieldsAreAllReported) {
  // Intents 2: missing plugins, targets, frontends.
  EXPECT_EQ(Errors("netd: {}\n"),
            (Lines{"t.yaml:1:1: version: required field is missing",
                   "t.yaml:1:1: log: required field is missing",
                   "t.yaml:1:1: plugins: required field is missing (write \"plugins: {}\" for none)",
                   "t.yaml:1:1: targets: required field is missing (write \"targets: []\" for none)",
                   "t.yaml:1:1: frontends: required field is missing (write \"frontends: []\" for "
                   "none)"}));
}

TEST(ConfigLoad, NullSectionsAreNotEmpty) {
  EXPECT_EQ(Errors("version: v1\nlog:\nplugins:\ntargets:\nfrontends:\n"),
            (Lines{"t.yaml:2:1: log: expected a mapping, got null",
                   "t.yaml:3:1: plugins: expected a mapping, got null (write \"plugins: {}\" for "
                   "none)",
                   "t.yaml:4:1: targets: expected a list, got null",
                   "t.yaml:5:1: frontends: expected a list, got null"}));
}

TEST(ConfigLoad, Version) {
  EXPECT_EQ(Errors("version: v2\nlog: {output: stderr}\nplugins: {}\ntargets: []\nfrontends: []\n"),
            Lines{"t.yaml:1:10: version: unsupported version \"v2\" (this proxygw reads \"v1\")"});
  EXPECT_EQ(Errors("version: 1\nlog: {output: stderr}\nplugins: {}\ntargets: []\nfrontends: []\n"),
            Lines{"t.yaml:1:10: version: expected a string, got the number 1 (quote it to use it "
                  "as text)"});
}

TEST(ConfigLoad, UnknownKeysAreErrorsWithSuggestions) {
  EXPECT_EQ(Errors(std::string(kHead) + "targets: []\nfrontend: []\n"),
            (Lines{"t.yaml:1:1: frontends: required field is missing (write \"frontends: []\" for "
                   "none)",
                   "t.yaml:5:1: unknown key \"frontend\" (did you mean \"frontends\"?)"}));
  EXPECT_EQ(Errors("version: v1\nlog: {output: stderr, color: true}\nplugins: {}\ntargets: []\n"
                   "frontends: []\n"),
            Lines{"t.yaml:2:23: log: unknown key \"color\" (expected one of: output, level)"});
}

TEST(ConfigLoad, DuplicateKeysAreErrors) {
  EXPECT_EQ(Errors(std::string(kHead) + "targets: []\nfrontends: []\ntargets: []\n"),
            Lines{"t.yaml:6:1: targets: duplicate key (first written at line 4)"});
}

TEST(ConfigLoad, NonStringKeysAreErrors) {
  EXPECT_EQ(Errors(std::string(kHead) + "targets: []\nfrontends: []\n80: x\n"),
            Lines{"t.yaml:6:1: keys must be strings, got the number 80"});
}

TEST(ConfigLoad, LogOutputAndLevel) {
  EXPECT_EQ(Errors("version: v1\nlog: {output: out.log, level: LOUD}\nplugins: {}\ntargets: []\n"
                   "frontends: []\n"),
            (Lines{"t.yaml:2:15: log.output: expected \"stdout\", \"stderr\" or an absolute file "
                   "path, got \"out.log\"",
                   "t.yaml:2:31: log.level: invalid log level \"LOUD\": expected DEBUG, INFO, WARN or "
                   "ERROR, optionally with an offset such as INFO+2"}));
  EXPECT_EQ(Errors("version: v1\nlog: {level: INFO}\nplugins: {}\ntargets: []\nfrontends: []\n"),
            Lines{"t.yaml:2:6: log.output: required field is missing"});
  EXPECT_EQ(Errors("version: v1\nlog: {output: ''}\nplugins: {}\ntargets: []\nfrontends: []\n"),
            Lines{"t.yaml:2:15: log.output: must not be empty"});
  Config c = Load("version: v1\nlog: {output: /var/log/pgw.log, level: warn}\nplugins: {}\n"
                  "targets: []\nfrontends: []\n");
  EXPECT_EQ(c.log.output, "/var/log/pgw.log");
  EXPECT_EQ(c.log.level, LogLevel::kWarn);
}

TEST(ConfigLoad, NetdAndEngineSections) {
  Config c = Load(std::string(kHead) +
                  "targets: []\nfrontends: []\n"
                  "netd: {socket: /run/x/netd.sock, user: pgw-netd}\n"
                  "engine: {user: pgw, state_dir: /var/lib/pgw}\n");
  EXPECT_EQ(c.netd.socket, "/run/x/netd.sock");
  EXPECT_EQ(c.netd.user, "pgw-netd");
  EXPECT_EQ(c.engine.user, "pgw");
  EXPECT_EQ(c.engine.state_dir, "/var/lib/pgw");
  Load(std::string(kHead) + "targets: []\nfrontends: []\nnetd:\nengine:\n");  // null: defaults
}

TEST(ConfigLoad, UsersAndPaths) {
  std::string long_socket = "/" + std::string(107, 's');
  EXPECT_EQ(Errors(std::string(kHead) + "targets: []\nfrontends: []\n" +
                   "netd: {user: root, socket: " + long_socket + "}\n" +
                   "engine: {user: Bob, state_dir: run}\n"),
            (Lines{"t.yaml:6:14: netd.user: must not be root: each process runs as its own system "
                   "user",
                   "t.yaml:6:28: netd.socket: socket path is 108 bytes; the limit is 107",
                   "t.yaml:7:16: engine.user: invalid user name \"Bob\": expected a system user name "
                   "(lowercase letters, digits, '_', '-')",
                   "t.yaml:7:32: engine.state_dir: must be an absolute path, got \"run\""}));
  EXPECT_EQ(Errors(std::string(kHead) + "targets: []\nfrontends: []\nnetd: {socket: \"/a\\nb\"}\n"),
            Lines{"t.yaml:6:16: netd.socket: path must not contain a newline"});
}

TEST(ConfigLoad, EngineAndNetdUsersDiffer) {
  EXPECT_EQ(Errors(std::string(kHead) + "targets: []\nfrontends: []\nengine: {user: proxygw-netd}\n"),
            Lines{"t.yaml:6:1: engine.user: the engine and netd must run as different users (both "
                  "are \"proxygw-netd\")"});
  EXPECT_EQ(Errors(std::string(kHead) + "targets: []\nfrontends: []\nnetd: {user: proxygw}\n"),
            Lines{"t.yaml:6:1: netd.user: the engine and netd must run as different users (both "
                  "are \"proxygw\")"});
}

TEST(ConfigLoad, Plugins) {
  Config c = Load("version: v1\nlog: {output: stderr}\nplugins:\n  ctl: {socket: /run/c.sock}\n"
                  "  static:\ntargets: []\nfrontends: []\n");
  ASSERT_EQ(c.plugins.size(), 2u);
  EXPECT_EQ(c.plugins[0].first, "ctl");
  EXPECT_EQ(c.plugins[0].second.path, "plugins.ctl");
  EXPECT_EQ(c.plugins[0].second.node["socket"].Scalar(), "/run/c.sock");
  EXPECT_EQ(c.plugins[1].first, "static");
  EXPECT_FALSE(c.plugins[1].second.node.IsDefined() && !c.plugins[1].second.node.IsNull());
  ASSERT_NE(c.PluginOptions("ctl"), nullptr);
  EXPECT_EQ(c.PluginOptions("aws"), nullptr);
  EXPECT_EQ(Errors("version: v1\nlog: {output: stderr}\nplugins: {ctl: [x], 'a b': {}}\n"
                   "targets: []\nfrontends: []\n"),
            (Lines{"t.yaml:3:16: plugins.ctl: expected a mapping of plugin options, got a list",
                   "t.yaml:3:21: plugins.a b: invalid plugin namespace \"a b\": use 1-63 "
                   "characters: letters, digits, '.', '_' and '-', starting with a letter or "
                   "digit"}));
  EXPECT_EQ(Errors("version: v1\nlog: {output: stderr}\nplugins: []\ntargets: []\nfrontends: []\n"),
            Lines{"t.yaml:3:10: plugins: expected a mapping, got a list"});
}

// --- Targets and endpoints ---------------------------------------------------

std::string OneTarget(const std::string& fields, const std::string& endpoint =
                                                     "{name: e, protocol: tcp, address: "
                                                     "'198.18.0.2:80'}") {
  return std::string(kHead) + "targets:\n  - {" + fields + (fields.empty() ? "" : ", ") +
         "endpoints: [" + endpoint + "]}\nfrontends: []\n";
}

TEST(TargetLoad, RequiredFields) {
  EXPECT_EQ(Errors(OneTarget("")),
            (Lines{"t.yaml:5:5: targets[0].name: required field is missing",
                   "t.yaml:5:5: targets[0].kind: required field is missing",
                   "t.yaml:5:5: targets[0].idle_timeout: required field is missing"}));
  EXPECT_EQ(Errors(std::string(kHead) + "targets: [{name: t, kind: 'a:b', idle_timeout: 1s}]\n"
                                        "frontends: []\n"),
            Lines{"t.yaml:4:11: targets[0].endpoints: required field is missing"});
}

TEST(TargetLoad, Names) {
  EXPECT_EQ(Errors(OneTarget("name: 'my server', kind: 'a:b', idle_timeout: 1s")),
            Lines{"t.yaml:5:12: targets[0].name: invalid name \"my server\": use 1-63 characters: "
                  "letters, digits, '.', '_' and '-', starting with a letter or digit"});
  EXPECT_EQ(Errors(OneTarget("name: '', kind: 'a:b', idle_timeout: 1s")),
            Lines{"t.yaml:5:12: targets[0].name: must not be empty"});
  EXPECT_EQ(Errors(OneTarget("name: " + std::string(64, 'n') + ", kind: 'a:b', idle_timeout: 1s")),
            Lines{"t.yaml:5:12: targets[0].name: invalid name \"" + std::string(64, 'n') +
                  "\": use 1-63 characters: letters, digits, '.', '_' and '-', starting with a "
                  "letter or digit"});
  Load(OneTarget("name: " + std::string(63, 'n') + ", kind: 'a:b', idle_timeout: 1s"));
  Load(OneTarget("name: Game.Server_1-a, kind: 'a:b', idle_timeout: 1s"));
}

TEST(TargetLoad, KindIsNamespaceColonName) {
  // Intent 4: the original's NamespaceReference rejections.
  for (const char* kind : {"static", "static/drop", "static:", ":drop", "static:drop:extra"}) {
    EXPECT_EQ(Errors(OneTarget(std::string("name: t, kind: '") + kind + "', idle_timeout: 1s")),
              Lines{"t.yaml:5:21: targets[0].kind: invalid reference \"" + std::string(kind) +
                    "\": expected \"namespace:kind\", e.g. \"static:cmd\""});
  }
  EXPECT_EQ(Errors(OneTarget("name: t, kind: '', idle_timeout: 1s")),
            Lines{"t.yaml:5:21: targets[0].kind: must not be empty"});
}

TEST(TargetLoad, Timeouts) {
  auto one = [](const std::string& idle) {
    return Errors(OneTarget("name: t, kind: 'a:b', idle_timeout: " + idle));
  };
  EXPECT_EQ(one("300"), Lines{"t.yaml:5:42: targets[0].idle_timeout: expected a duration with a "
                              "unit, e.g. \"300s\", got the number 300"});
  EXPECT_EQ(one("'300'"), Lines{"t.yaml:5:42: targets[0].idle_timeout: invalid duration \"300\": "
                                "missing unit (use ns, us, ms, s, m or h, e.g. \"300s\")"});
  EXPECT_EQ(one("0s"), Lines{"t.yaml:5:42: targets[0].idle_timeout: must be at least 1s, got "
                             "\"0s\""});
  EXPECT_EQ(one("999ms"), Lines{"t.yaml:5:42: targets[0].idle_timeout: must be at least 1s, got "
                                "\"999ms\""});
  EXPECT_EQ(one("-1m"), Lines{"t.yaml:5:42: targets[0].idle_timeout: must be at least 1s, got "
                              "\"-1m\""});
  EXPECT_EQ(one("1500ms"), Lines{"t.yaml:5:42: targets[0].idle_timeout: must be a whole number of "
                                 "seconds, got \"1500ms\" (timeouts are kept in seconds, and "
                                 "nothing is rounded)"});
  EXPECT_EQ(one("8761h"), Lines{"t.yaml:5:42: targets[0].idle_timeout: must be at most 8760h, got "
                                "\"8761h\""});
  EXPECT_EQ(one("99999999999999999999s"),
            Lines{"t.yaml:5:42: targets[0].idle_timeout: invalid duration "
                  "\"99999999999999999999s\": out of range"});
  EXPECT_EQ(one("~"), Lines{"t.yaml:5:28: targets[0].idle_timeout: expected a string, got null"});
  EXPECT_EQ(Errors(OneTarget("name: t, kind: 'a:b', idle_timeout: 1s, ready_timeout: 25h")),
            Lines{"t.yaml:5:61: targets[0].ready_timeout: must be at most 24h, got \"25h\""});
  Config c = Load(OneTarget("name: t, kind: 'a:b', idle_timeout: 1.5h, ready_timeout: 90s"));
  EXPECT_EQ(c.targets.at(0).idle_timeout_s, 5400u);
  EXPECT_EQ(c.targets.at(0).ready_timeout_s, 90u);
  EXPECT_EQ(Load(OneTarget("name: t, kind: 'a:b', idle_timeout: 1000000us")).targets.at(0)
                .idle_timeout_s, 1u);
}

TEST(TargetLoad, OptionsMustBeAMapping) {
  EXPECT_EQ(Errors(OneTarget("name: t, kind: 'a:b', idle_timeout: 1s, options: [x]")),
            Lines{"t.yaml:5:55: targets[0].options: expected a mapping, got a list"});
  Config c = Load(OneTarget("name: t, kind: 'a:b', idle_timeout: 1s, options: {command: x}"));
  EXPECT_EQ(c.targets.at(0).options.path, "targets[0].options");
  EXPECT_EQ(c.targets.at(0).options.node["command"].Scalar(), "x");
  EXPECT_EQ(c.targets.at(0).options.location.line, 5);
}

TEST(EndpointLoad, Fields) {
  const std::string t = "name: t, kind: 'a:b', idle_timeout: 1s";
  EXPECT_EQ(Errors(OneTarget(t, "{}")),
            (Lines{"t.yaml:5:58: targets[0].endpoints[0].name: required field is missing",
                   "t.yaml:5:58: targets[0].endpoints[0].protocol: required field is missing",
                   "t.yaml:5:58: targets[0].endpoints[0].address: required field is missing (give "
                   "\"address\", or \"addresses\" for dual-stack)"}));
  EXPECT_EQ(Errors(OneTarget(t, "{name: e, protocol: TCP, address: '198.18.0.2:1'}")),
            Lines{"t.yaml:5:78: targets[0].endpoints[0].protocol: invalid protocol \"TCP\": "
                  "expected \"tcp\" or \"udp\""});
  EXPECT_EQ(Errors(OneTarget(t, "{name: e, protocol: tcp, address: '198.18.0.2:1', addresses: "
                                "['198.18.0.2:1']}")),
            Lines{"t.yaml:5:108: targets[0].endpoints[0]: give either \"address\" or "
                  "\"addresses\", not both"});
  EXPECT_EQ(Errors(OneTarget(t, "{name: e, protocol: tcp, addresses: []}")),
            Lines{"t.yaml:5:94: targets[0].endpoints[0].addresses: expected one or two addresses "
                  "(at most one IPv4 and one IPv6), got 0"});
  EXPECT_EQ(Errors(OneTarget(t, "{name: e, protocol: tcp, addresses: '198.18.0.2:1'}")),
            Lines{"t.yaml:5:94: targets[0].endpoints[0].addresses: expected a list, got the string "
                  "\"198.18.0.2:1\""});
  EXPECT_EQ(Errors(OneTarget(t, "{name: e, protocol: tcp, addresses: ['198.18.0.2:1', "
                                "'198.18.0.3:1']}")),
            Lines{"t.yaml:5:111: targets[0].endpoints[0].addresses[1]: second IPv4 address; an "
                  "endpoint has at most one address per family"});
  EXPECT_EQ(Errors(std::string(kHead) + "targets: [{name: t, kind: 'a:b', idle_timeout: 1s, "
                                        "endpoints: []}]\nfrontends: []\n"),
            Lines{"t.yaml:4:63: targets[0].endpoints: must list at least one endpoint"});
}

TEST(EndpointLoad, Addresses) {
  const std::string t = "name: t, kind: 'a:b', idle_timeout: 1s";
  auto one = [&](const std::string& addr) {
    return Errors(OneTarget(t, "{name: e, protocol: tcp, address: '" + addr + "'}"));
  };
  const std::string at = "t.yaml:5:92: targets[0].endpoints[0].address: ";
  EXPECT_EQ(one("198.18.0.2:0"), Lines{at + "port 0 is not allowed in \"198.18.0.2:0\""});
  EXPECT_EQ(one("[fe80::1%eth0]:80"),
            Lines{at + "address \"fe80::1%eth0\" has a zone; zone-qualified addresses are not "
                       "supported"});
  EXPECT_EQ(one("0.0.0.0:80"), Lines{at + "endpoint address \"0.0.0.0:80\" is unspecified; give "
                                          "the backend's real address"});
  EXPECT_EQ(one("[::]:80"), Lines{at + "endpoint address \"[::]:80\" is unspecified; give the "
                                       "backend's real address"});
  EXPECT_EQ(one("239.1.1.1:80"), Lines{at + "multicast address \"239.1.1.1:80\" cannot be "
                                            "forwarded"});
  EXPECT_EQ(one("[::ffff:198.18.0.2]:80"),
            Lines{at + "IPv4-mapped IPv6 address \"[::ffff:198.18.0.2]:80\" is not supported; "
                       "write the IPv4 form"});
  EXPECT_EQ(one("localhost:80"), Lines{at + "invalid IPv4 address \"localhost\""});
}

TEST(TargetSemantics, DuplicateNames) {
  // Intent 2: duplicate target, duplicate endpoint.
  EXPECT_EQ(Errors(std::string(kHead) +
                   "targets:\n"
                   "  - {name: backend, kind: 'a:b', idle_timeout: 1s, endpoints: [{name: http, "
                   "protocol: tcp, address: '198.18.0.2:1'}, {name: http, protocol: tcp, address: "
                   "'198.18.0.2:2'}]}\n"
                   "  - {name: backend, kind: 'a:b', idle_timeout: 1s, endpoints: [{name: http, "
                   "protocol: tcp, address: '198.18.0.3:1'}]}\n"
                   "frontends: []\n"),
            (Lines{"t.yaml:5:125: targets[0].endpoints[1].name: duplicate endpoint name \"http\" in "
                   "target \"backend\", first defined (line 5)",
                   "t.yaml:6:12: targets[1].name: duplicate target name \"backend\", first defined "
                   "(line 5)"}));
}

TEST(TargetSemantics, EndpointsDoNotShareAnAddress) {
  EXPECT_EQ(Errors(std::string(kHead) +
                   "targets:\n"
                   "  - {name: a, kind: 'a:b', idle_timeout: 1s, endpoints: [{name: e, protocol: "
                   "tcp, address: '198.18.0.2:1'}]}\n"
                   "  - {name: b, kind: 'a:b', idle_timeout: 1s, endpoints: [{name: e, protocol: "
                   "tcp, address: '198.18.0.2:1'}, {name: u, protocol: udp, address: "
                   "'198.18.0.2:1'}]}\n"
                   "frontends: []\n"),
            Lines{"t.yaml:6:92: targets[1].endpoints[0]: tcp address \"198.18.0.2:1\" is already "
                  "the address of endpoint a:e (line 5); endpoints cannot share an address"});
}

// --- Frontends ---------------------------------------------------------------

// kHead + kTarget (a tcp endpoint backend:http at 198.18.0.2:8080), then the
// frontends list on line 10 and each frontend from line 11.
std::string Frontends(const std::vector<std::string>& each) {
  std::string y = std::string(kHead) + kTarget + "frontends:\n";
  for (const auto& f : each) y += "  - {" + f + "}\n";
  return y;
}

std::string Fe(const std::string& name, const std::string& listen,
               const std::string& extra = "target: 'backend:http'") {
  return "name: " + name + ", kind: 'static:always', listen: '" + listen +
         "', flow_timeout: 60s, " + extra;
}

TEST(FrontendLoad, RequiredFields) {
  EXPECT_EQ(Errors(Frontends({""})),
            (Lines{"t.yaml:11:5: frontends[0].name: required field is missing",
                   "t.yaml:11:5: frontends[0].kind: required field is missing",
                   "t.yaml:11:5: frontends[0].listen: required field is missing",
                   "t.yaml:11:5: frontends[0].flow_timeout: required field is missing",
                   "t.yaml:11:5: frontends[0].target: required field is missing"}));
}

TEST(FrontendLoad, Fields) {
  EXPECT_EQ(Errors(Frontends({Fe("f", "0.0.0.0:0")})),
            Lines{"t.yaml:11:46: frontends[0].listen: port 0 is not allowed in \"0.0.0.0:0\""});
  EXPECT_EQ(Errors(Frontends({Fe("f", "[fe80::1%eth0]:80")})),
            Lines{"t.yaml:11:46: frontends[0].listen: address \"fe80::1%eth0\" has a zone; "
                  "zone-qualified addresses are not supported"});
  EXPECT_EQ(Errors(Frontends({Fe("f", "0.0.0.0:80", "target: backend")})),
            Lines{"t.yaml:11:87: frontends[0].target: invalid reference \"backend\": expected "
                  "\"target:endpoint\", e.g. \"backend:http\""});
  EXPECT_EQ(Errors(Frontends({Fe("f", "0.0.0.0:80", "target: 'backend:http', protocol: sctp")})),
            Lines{"t.yaml:11:113: frontends[0].protocol: invalid protocol \"sctp\": expected "
                  "\"tcp\" or \"udp\""});
  EXPECT_EQ(Errors(Frontends({"name: f, kind: 'static:always', listen: '0.0.0.0:80', "
                              "flow_timeout: 577h, target: 'backend:http'"})),
            Lines{"t.yaml:11:74: frontends[0].flow_timeout: must be at most 576h, got \"577h\""});
  // Issue 13: 30 days passed, but expired at once in the kernel (see
  // kMaxFlowTimeoutS).
  EXPECT_EQ(Errors(Frontends({"name: f, kind: 'static:always', listen: '0.0.0.0:80', "
                              "flow_timeout: 720h, target: 'backend:http'"})),
            Lines{"t.yaml:11:74: frontends[0].flow_timeout: must be at most 576h, got \"720h\""});
  EXPECT_EQ(Errors(Frontends({Fe("f", "0.0.0.0:80", "target: 'backend:http', options: x")})),
            Lines{"t.yaml:11:112: frontends[0].options: expected a mapping, got the string \"x\""});
  EXPECT_EQ(Errors(Frontends({Fe("f", "0.0.0.0:80", "target: 'backend:http', listen: x")})),
            Lines{"t.yaml:11:103: frontends[0].listen: duplicate key (first written at line 11)"});
}

TEST(FrontendSemantics, References) {
  // Intent 2: unknown target, unknown endpoint.
  EXPECT_EQ(Errors(Frontends({Fe("a", "0.0.0.0:80", "target: 'missing:http'"),
                              Fe("b", "0.0.0.0:81", "target: 'backend:missing'")})),
            (Lines{"t.yaml:11:87: frontends[0].target: no target named \"missing\"",
                   "t.yaml:12:87: frontends[1].target: target \"backend\" has no endpoint named "
                   "\"missing\" (it has \"http\")"}));
}

TEST(FrontendSemantics, ReferenceToABrokenTargetIsNotReportedTwice) {
  std::string y = std::string(kHead) +
                  "targets: [{name: t, kind: nokind, idle_timeout: 1s, endpoints: [{name: e, "
                  "protocol: tcp, address: '198.18.0.2:1'}]}]\n"
                  "frontends: [{" + Fe("f", "0.0.0.0:80", "target: 't:e'") + "}]\n";
  EXPECT_EQ(Errors(y), Lines{"t.yaml:4:27: targets[0].kind: invalid reference \"nokind\": expected "
                             "\"namespace:kind\", e.g. \"static:cmd\""});
}

TEST(FrontendSemantics, DuplicateNames) {
  EXPECT_EQ(Errors(Frontends({Fe("public-http", "0.0.0.0:80"), Fe("public-http", "0.0.0.0:81")})),
            Lines{"t.yaml:12:12: frontends[1].name: duplicate frontend name \"public-http\", first "
                  "defined (line 11)"});
}

TEST(FrontendSemantics, ProtocolMustMatchTheEndpoint) {
  EXPECT_EQ(Errors(Frontends({Fe("f", "0.0.0.0:80", "target: 'backend:http', protocol: udp")})),
            Lines{"t.yaml:11:113: frontends[0].protocol: \"udp\" does not match endpoint "
                  "backend:http, which is \"tcp\" (the protocol may be left out: it is taken from "
                  "the endpoint)"});
  Load(Frontends({Fe("f", "0.0.0.0:80", "target: 'backend:http', protocol: tcp")}));
}

TEST(FrontendSemantics, AddressFamiliesMustBeServable) {
  EXPECT_EQ(Errors(Frontends({Fe("f", "[::]:80")})),
            Lines{"t.yaml:11:46: frontends[0].listen: \"[::]:80\" serves IPv6 clients (and IPv4 "
                  "ones when the endpoint has both families), but endpoint backend:http has no "
                  "IPv6 address (it has \"198.18.0.2:8080\"); listen on \"0.0.0.0:80\" instead, or "
                  "add an IPv6 address to the endpoint's \"addresses\""});
  EXPECT_EQ(Errors(Frontends({Fe("f", "[2001:db8::1]:80")})),
            Lines{"t.yaml:11:46: frontends[0].listen: IPv6 listen address \"[2001:db8::1]:80\" "
                  "needs an IPv6 address on endpoint backend:http (it has \"198.18.0.2:8080\")"});
  std::string v6 = std::string(kHead) +
                   "targets: [{name: t, kind: 'a:b', idle_timeout: 1s, endpoints: [{name: e, "
                   "protocol: tcp, address: '[2001:db8::2]:1'}]}]\nfrontends:\n"
                   "  - {" + Fe("a", "198.18.0.1:80", "target: 't:e'") + "}\n"
                   "  - {" + Fe("b", "[::]:81", "target: 't:e'") + "}\n";
  EXPECT_EQ(Errors(v6),
            (Lines{"t.yaml:6:46: frontends[0].listen: IPv4 listen address \"198.18.0.1:80\" needs "
                   "an IPv4 address on endpoint t:e (it has \"[2001:db8::2]:1\")"}));
}

// The original's workaround for dual-stack, from its README: one 0.0.0.0:P
// frontend to an IPv4 endpoint, one [::]:P frontend to an IPv6 endpoint. It
// was refused (overlap, and [::] demanding both families).
TEST(FrontendSemantics, TheOriginalsDualStackPairLoads) {
  std::string y = std::string(kHead) +
                  "targets:\n"
                  "  - {name: t4, kind: 'a:b', idle_timeout: 1s, endpoints: [{name: e, protocol: "
                  "tcp, address: '198.18.0.2:1'}]}\n"
                  "  - {name: t6, kind: 'a:b', idle_timeout: 1s, endpoints: [{name: e, protocol: "
                  "tcp, address: '[2001:db8::2]:1'}]}\n"
                  "frontends:\n"
                  "  - {" + Fe("a", "0.0.0.0:80", "target: 't4:e'") + "}\n"
                  "  - {" + Fe("b", "[::]:80", "target: 't6:e'") + "}\n";
  Config c = Load(y);
  ASSERT_EQ(c.frontends.size(), 2u);
  EXPECT_FALSE(c.frontends[1].DualStack());
  EXPECT_TRUE(c.frontends[1].ipv6_only);
  auto m = c.MappingsOf(c.frontends[1]);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].listen.ToString(), "[::]:80");
  EXPECT_EQ(m[0].destination.ToString(), "[2001:db8::2]:1");
  // With both families on its endpoint, [::] is dual-stack again and takes
  // the IPv4 port too.
  std::string both = std::string(kHead) +
                     "targets:\n"
                     "  - {name: t4, kind: 'a:b', idle_timeout: 1s, endpoints: [{name: e, protocol: "
                     "tcp, address: '198.18.0.2:1'}]}\n"
                     "  - {name: t6, kind: 'a:b', idle_timeout: 1s, endpoints: [{name: e, protocol: "
                     "tcp, addresses: ['198.18.0.3:1', '[2001:db8::2]:1']}]}\n"
                     "frontends:\n"
                     "  - {" + Fe("a", "0.0.0.0:80", "target: 't4:e'") + "}\n"
                     "  - {" + Fe("b", "[::]:80", "target: 't6:e'") + "}\n";
  EXPECT_EQ(Errors(both).size(), 1u);
}

TEST(FrontendSemantics, ListenAddressesDoNotOverlap) {
  EXPECT_EQ(Errors(Frontends({Fe("a", "198.18.0.1:80"), Fe("b", "198.18.0.1:80")})),
            Lines{"t.yaml:12:46: frontends[1].listen: tcp listen address \"198.18.0.1:80\" is "
                  "already used by frontend \"a\" (line 11)"});
  EXPECT_EQ(Errors(Frontends({Fe("a", "198.18.0.1:80"), Fe("b", "0.0.0.0:80")})),
            Lines{"t.yaml:12:46: frontends[1].listen: tcp listen address \"0.0.0.0:80\" overlaps "
                  "\"198.18.0.1:80\" of frontend \"a\" (line 11): a wildcard address takes its port "
                  "on every local address of its family, and [::] on IPv4 addresses too"});
  // Other port, other protocol, other family: no overlap.
  Load(Frontends({Fe("a", "198.18.0.1:80"), Fe("b", "0.0.0.0:81"), Fe("c", "198.18.0.3:80")}));
}

TEST(FrontendSemantics, DualStackWildcardTakesTheIpv4PortToo) {
  std::string y = std::string(kHead) +
                  "targets: [{name: t, kind: 'a:b', idle_timeout: 1s, endpoints: [{name: e, "
                  "protocol: tcp, addresses: ['198.18.0.2:1', '[2001:db8::2]:1']}]}]\nfrontends:\n"
                  "  - {" + Fe("a", "198.18.0.1:80", "target: 't:e'") + "}\n"
                  "  - {" + Fe("b", "[::]:80", "target: 't:e'") + "}\n"
                  "  - {" + Fe("c", "[2001:db8::1]:81", "target: 't:e'") + "}\n"
                  "  - {" + Fe("d", "0.0.0.0:81", "target: 't:e'") + "}\n";
  EXPECT_EQ(Errors(y), Lines{"t.yaml:7:46: frontends[1].listen: tcp listen address \"[::]:80\" "
                             "overlaps \"198.18.0.1:80\" of frontend \"a\" (line 6): a wildcard "
                             "address takes its port on every local address of its family, and "
                             "[::] on IPv4 addresses too"});
}

TEST(FrontendSemantics, ManyFrontendsMayShareOneEndpoint) {
  // The original allowed one frontend per endpoint (B22); counting flows per
  // destination lifts that limit.
  Config c = Load(Frontends({Fe("a", "198.18.0.1:80"), Fe("b", "198.18.0.1:81")}));
  EXPECT_EQ(c.frontends.size(), 2u);
}

TEST(FrontendSemantics, ListenIsNotABackendAddress) {
  EXPECT_EQ(Errors(Frontends({Fe("f", "198.18.0.2:8080")})),
            Lines{"t.yaml:11:46: frontends[0].listen: \"198.18.0.2:8080\" is also the address of "
                  "endpoint backend:http (line 9); a frontend cannot listen on a backend's "
                  "address"});
}

TEST(ConfigLoad, AllErrorsOfAFileAtOnceInFileOrder) {
  std::string y =
      "version: v1\n"
      "log: {output: stderr}\n"
      "plugins: {}\n"
      "targets:\n"
      "  - {name: t, kind: 'a:b', idle_timeout: 0s, endpoints: [{name: e, protocol: tcp, "
      "address: '198.18.0.2:0'}]}\n"
      "frontends:\n"
      "  - {name: f, kind: x, listen: '0.0.0.0:80', flow_timeout: 1s, target: 'nope:e'}\n"
      "  - {name: g, kind: 'a:b', listen: '0.0.0.0:81', flow_timeout: 1s, target: 'nope:e'}\n";
  EXPECT_EQ(Errors(y),
            (Lines{"t.yaml:5:42: targets[0].idle_timeout: must be at least 1s, got \"0s\"",
                   "t.yaml:5:92: targets[0].endpoints[0].address: port 0 is not allowed in "
                   "\"198.18.0.2:0\"",
                   "t.yaml:7:21: frontends[0].kind: invalid reference \"x\": expected "
                   "\"namespace:kind\", e.g. \"static:cmd\"",
                   "t.yaml:8:76: frontends[1].target: no target named \"nope\""}));
}

TEST(ConfigLoad, ExampleConfigsAreValid) {
  const char* src = std::getenv("PROXYGW_SOURCE_DIR");
  if (src == nullptr) GTEST_SKIP() << "PROXYGW_SOURCE_DIR not set";
  for (const char* name : {"example.yaml", "tcp-game-server.yaml", "udp-game-server.yaml",
                           "dual-stack-web.yaml"}) {
    LoadResult r = LoadConfigFile(std::string(src) + "/configs/" + name);
    EXPECT_TRUE(r.ok()) << name << ":\n" << r.ErrorText();
  }
}

}  // namespace
}  // namespace config
