// What a config reload counts as changed, what it refuses, and which
// unchanged targets only have their mappings updated.
#include "proxygw-engine/reload_plan.h"

#include <gtest/gtest.h>

#include "proxygw-engine/config/loader.h"

namespace engine {
namespace {

using Names = std::vector<std::string>;

config::Config Load(const std::string& yaml) {
  auto r = config::LoadConfigString(yaml, "proxygw.yaml");
  EXPECT_TRUE(r.ok()) << r.ErrorText();
  return r.ok() ? *r.config : config::Config{};
}

const std::string kHead =
    "version: v1\n"
    "log: {output: stderr, level: INFO}\n"
    "netd: {socket: /run/n.sock}\n"
    "engine: {state_dir: /run/pgw}\n"
    "plugins:\n"
    "  ctl: {socket: /run/ctl.sock}\n"
    "  static: {}\n";

// Targets web (cmd, with options) and game (none); frontends web (http) and
// game (always).
const std::string kTargets =
    "targets:\n"
    "  - name: web\n"
    "    kind: static:cmd\n"
    "    idle_timeout: 5m\n"
    "    endpoints: [{name: http, protocol: tcp, address: '198.18.2.2:80'}]\n"
    "    options: {command: 'exec server', stop_timeout: 10s}\n"
    "  - name: game\n"
    "    kind: static:none\n"
    "    idle_timeout: 5m\n"
    "    endpoints: [{name: g, protocol: udp, addresses: ['198.18.2.3:7000', '[2001:db8::3]:7000']}]\n";
const std::string kFrontends =
    "frontends:\n"
    "  - {name: web, kind: 'static:http', listen: '0.0.0.0:8080', flow_timeout: 60s,"
    " target: 'web:http', options: {content: cold}}\n"
    "  - {name: game, kind: 'static:always', listen: '0.0.0.0:7000', flow_timeout: 60s,"
    " target: 'game:g'}\n";

ReloadPlan Plan(const std::string& next_yaml, const std::string& running_yaml = "") {
  config::Config running = Load(running_yaml.empty() ? kHead + kTargets + kFrontends : running_yaml);
  config::Config next = Load(next_yaml);
  return PlanReload(running, next);
}

// `text` with its first `from` replaced by `to`; fails the test when absent.
std::string Edit(std::string text, const std::string& from, const std::string& to) {
  auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(ReloadPlan, TheSameFileChangesNothing) {
  ReloadPlan p = Plan(kHead + kTargets + kFrontends);
  EXPECT_TRUE(p.Empty());
  EXPECT_EQ(p.targets.unchanged, (Names{"game", "web"}));
  EXPECT_EQ(p.frontends.unchanged, (Names{"game", "web"}));
  EXPECT_TRUE(p.remapped.empty());
  EXPECT_TRUE(p.restart_only.empty());
  EXPECT_FALSE(p.log_changed);
}

TEST(ReloadPlan, WhereAndInWhatOrderThingsAreWrittenIsNoChange) {
  std::string moved =
      "# a comment moves every line\n" + kHead +
      "frontends:\n"
      "  - {name: game, target: 'game:g', kind: 'static:always', listen: '0.0.0.0:7000',"
      " flow_timeout: 1m}\n"
      "  - {name: web, kind: 'static:http', listen: '0.0.0.0:8080', flow_timeout: 60s,"
      " target: 'web:http', options: {content: \"cold\"}}\n"
      "targets:\n"
      "  - name: game\n"
      "    kind: static:none\n"
      "    idle_timeout: 300s\n"
      "    endpoints: [{name: g, protocol: udp, addresses: ['[2001:db8::3]:7000', "
      "'198.18.2.3:7000']}]\n"
      "  - name: web\n"
      "    kind: static:cmd\n"
      "    idle_timeout: 5m\n"
      "    endpoints: [{name: http, protocol: tcp, address: '198.18.2.2:80'}]\n"
      "    options:\n"
      "      stop_timeout: 10s\n"
      "      command: 'exec server'\n";
  ReloadPlan p = Plan(moved);
  EXPECT_TRUE(p.Empty()) << "changed targets: " << p.targets.changed.size()
                         << ", frontends: " << p.frontends.changed.size();
}

TEST(ReloadPlan, AnyMeaningfulFieldOfATargetIsAChange) {
  const std::vector<std::pair<std::string, std::string>> edits = {
      {"kind: static:cmd", "kind: static:none"},
      {"idle_timeout: 5m\n    endpoints: [{name: http", "idle_timeout: 6m\n    endpoints: [{name: http"},
      {"endpoints: [{name: http,", "ready_timeout: 30s\n    endpoints: [{name: http,"},
      {"'198.18.2.2:80'", "'198.18.2.4:80'"},
      {"command: 'exec server'", "command: 'exec server2'"},
      {"stop_timeout: 10s}", "stop_timeout: 10s, environment: {A: b}}"},
  };
  for (const auto& [from, to] : edits) {
    ReloadPlan p = Plan(kHead + Edit(kTargets, from, to) + kFrontends);
    EXPECT_EQ(p.targets.changed, Names{"web"}) << to;
    EXPECT_EQ(p.targets.unchanged, Names{"game"}) << to;
    // Its frontend goes with it.
    EXPECT_EQ(p.frontends.changed, Names{"web"}) << to;
    EXPECT_EQ(p.frontends.unchanged, Names{"game"}) << to;
    EXPECT_TRUE(p.remapped.empty()) << to;
  }
}

TEST(ReloadPlan, OptionsCompareAsYamlValuesWithTheirTags) {
  // "10s" quoted is a string as plain 10s is: no change. But a plugin may
  // tell a quoted "80" from the number 80: a change.
  ReloadPlan quoted = Plan(kHead + Edit(kTargets, "stop_timeout: 10s", "stop_timeout: '10s'") +
                           kFrontends);
  EXPECT_TRUE(quoted.Empty());
  ReloadPlan quoted_number =
      Plan(kHead + Edit(kTargets, "stop_timeout: 10s", "stop_timeout: 10s, x: 80") + kFrontends,
           kHead + Edit(kTargets, "stop_timeout: 10s", "stop_timeout: 10s, x: '80'") + kFrontends);
  EXPECT_EQ(quoted_number.targets.changed, Names{"web"});
  YAML::Node a = YAML::Load("{x: [1, {y: z}], w: ~}");
  EXPECT_TRUE(SameValue(a, YAML::Load("{w: null, x: [1, {y: z}]}")));
  EXPECT_FALSE(SameValue(a, YAML::Load("{w: null, x: [1, {y: Z}]}")));
  EXPECT_FALSE(SameValue(a, YAML::Load("{w: null, x: [{y: z}, 1]}")));
  EXPECT_FALSE(SameValue(YAML::Load("80"), YAML::Load("'80'")));
  EXPECT_FALSE(SameValue(YAML::Load("true"), YAML::Load("\"true\"")));
  EXPECT_TRUE(SameValue(YAML::Load("cold"), YAML::Load("\"cold\"")));
  EXPECT_TRUE(SameValue(YAML::Load("'x'"), YAML::Load("!!str x")));
  EXPECT_TRUE(SameValue(YAML::Node(), YAML::Load("~")));
}

TEST(ReloadPlan, AValueTooLargeToCompareIsAChange) {
  // Nine levels of nine aliases: 9^9 nodes once expanded.
  std::string bomb = "a0: &a0 [x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    bomb += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [" + prev;
    for (int j = 1; j < 9; ++j) bomb += ", " + prev;
    bomb += "]\n";
  }
  YAML::Node n = YAML::Load(bomb);
  EXPECT_FALSE(SameValue(n, n));
}

TEST(ReloadPlan, AnyMeaningfulFieldOfAFrontendIsAChange) {
  const std::vector<std::pair<std::string, std::string>> edits = {
      {"listen: '0.0.0.0:7000'", "listen: '198.18.1.1:7000'"},
      {"flow_timeout: 60s, target: 'game:g'", "flow_timeout: 61s, target: 'game:g'"},
      {"kind: 'static:always'", "kind: 'static:http', options: {content: x}"},
      {"target: 'game:g'}", "target: 'game:g', options: {}}"},
  };
  for (const auto& [from, to] : edits) {
    ReloadPlan p = Plan(kHead + kTargets + Edit(kFrontends, from, to));
    EXPECT_EQ(p.frontends.changed, Names{"game"}) << to;
    EXPECT_EQ(p.frontends.unchanged, Names{"web"}) << to;
    EXPECT_EQ(p.targets.unchanged, (Names{"game", "web"})) << to;
  }
  // Options of a frontend change the frontend, not its target's mappings.
  ReloadPlan content = Plan(kHead + kTargets + Edit(kFrontends, "content: cold", "content: warm"));
  EXPECT_EQ(content.frontends.changed, Names{"web"});
  EXPECT_TRUE(content.remapped.empty());
}

TEST(ReloadPlan, AFrontendMovedToAnotherTargetRemapsBoth) {
  std::string targets = kTargets + "  - {name: api, kind: 'static:none', idle_timeout: 5m,"
                                   " endpoints: [{name: h, protocol: tcp, address: '198.18.2.5:80'}]}\n";
  ReloadPlan p = Plan(kHead + targets + Edit(kFrontends, "target: 'web:http'", "target: 'api:h'"),
                      kHead + targets + kFrontends);
  EXPECT_EQ(p.frontends.changed, Names{"web"});
  EXPECT_EQ(p.targets.unchanged, (Names{"api", "game", "web"}));
  EXPECT_EQ(p.remapped, (Names{"api", "web"}));
}

TEST(ReloadPlan, AddingOrRemovingAFrontendRemapsItsUnchangedTarget) {
  std::string more = kFrontends +
                     "  - {name: web2, kind: 'static:always', listen: '0.0.0.0:8081',"
                     " flow_timeout: 60s, target: 'web:http'}\n";
  ReloadPlan added = Plan(kHead + kTargets + more);
  EXPECT_EQ(added.frontends.added, Names{"web2"});
  EXPECT_EQ(added.targets.unchanged, (Names{"game", "web"}));
  EXPECT_EQ(added.remapped, Names{"web"});
  EXPECT_FALSE(added.Empty());
  ReloadPlan removed = Plan(kHead + kTargets + kFrontends, kHead + kTargets + more);
  EXPECT_EQ(removed.frontends.removed, Names{"web2"});
  EXPECT_EQ(removed.remapped, Names{"web"});
  // A listen address that changes: the frontend is replaced, the target remapped.
  ReloadPlan moved = Plan(kHead + kTargets + Edit(kFrontends, ":8080", ":8090"));
  EXPECT_EQ(moved.frontends.changed, Names{"web"});
  EXPECT_EQ(moved.remapped, Names{"web"});
}

TEST(ReloadPlan, AddedAndRemovedTargetsAndFrontends) {
  std::string targets = Edit(kTargets, "name: game", "name: game2");
  std::string frontends =
      Edit(Edit(kFrontends, "name: game", "name: game2"), "target: 'game:g'", "target: 'game2:g'");
  ReloadPlan p = Plan(kHead + targets + frontends);
  EXPECT_EQ(p.targets.added, Names{"game2"});
  EXPECT_EQ(p.targets.removed, Names{"game"});
  EXPECT_EQ(p.targets.unchanged, Names{"web"});
  EXPECT_EQ(p.frontends.added, Names{"game2"});
  EXPECT_EQ(p.frontends.removed, Names{"game"});
  EXPECT_TRUE(p.remapped.empty());
}

TEST(ReloadPlan, SettingsOnlyARestartAppliesAreRefusedEachWithWhy) {
  std::string head = Edit(Edit(Edit(kHead, "/run/n.sock", "/run/m.sock"), "/run/pgw", "/run/p2"),
                          "engine: {", "engine: {user: pgw2, ");
  head = Edit(head, "netd: {", "netd: {user: netd2, ");
  ReloadPlan p = Plan(head + kTargets + kFrontends);
  std::vector<std::string> got;
  for (const auto& e : p.restart_only) got.push_back(e.ToString());
  EXPECT_EQ(got, (std::vector<std::string>{
                     "proxygw.yaml: netd.socket: changed from \"/run/n.sock\" to \"/run/m.sock\"; "
                     "this needs a restart of proxygw (the engine's connection to proxygw-netd "
                     "is set up at start)",
                     "proxygw.yaml: netd.user: changed from \"proxygw-netd\" to \"netd2\"; this "
                     "needs a restart of proxygw (proxygw-netd runs as this user from its start)",
                     "proxygw.yaml: engine.user: changed from \"proxygw\" to \"pgw2\"; this needs "
                     "a restart of proxygw (the engine runs as this user from its start)",
                     "proxygw.yaml: engine.state_dir: changed from \"/run/pgw\" to \"/run/p2\"; "
                     "this needs a restart of proxygw (targets' records and backends' output are "
                     "kept there)"}));
  // The objects are planned all the same; the engine refuses before applying.
  EXPECT_TRUE(p.Empty());
}

TEST(ReloadPlan, PluginSectionsAreRestartOnly) {
  ReloadPlan ctl = Plan(Edit(kHead, "{socket: /run/ctl.sock}", "{socket: /run/ctl2.sock}") +
                        kTargets + kFrontends);
  ASSERT_EQ(ctl.restart_only.size(), 1u);
  EXPECT_EQ(ctl.restart_only[0].ToString(),
            "proxygw.yaml:6:8: plugins.ctl: changed; this needs a restart of proxygw (the control "
            "socket is set up at start, and serves this very reload)");
  ReloadPlan removed = Plan(Edit(kHead, "  static: {}\n", "") + kTargets + kFrontends);
  ASSERT_EQ(removed.restart_only.size(), 1u);
  EXPECT_EQ(removed.restart_only[0].ToString(),
            "proxygw.yaml: plugins.static: removed; this needs a restart of proxygw (plugins are "
            "loaded at start)");
  // The same options written otherwise are no change.
  EXPECT_TRUE(Plan(Edit(kHead, "{socket: /run/ctl.sock}", "\n    socket: \"/run/ctl.sock\"") +
                   kTargets + kFrontends)
                  .restart_only.empty());
}

TEST(ReloadPlan, LogSettingsAreApplied) {
  ReloadPlan p = Plan(Edit(kHead, "level: INFO", "level: DEBUG") + kTargets + kFrontends);
  EXPECT_TRUE(p.log_changed);
  EXPECT_TRUE(p.restart_only.empty());
  EXPECT_TRUE(p.Empty());
}

}  // namespace
}  // namespace engine
