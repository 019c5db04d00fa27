// systemd:unit's options: every error pinned exactly with its location
// (configs loaded from YAML text, as the engine loads them).
#include "plugins/systemd/unit_options.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "proxygw-engine/config/loader.h"

namespace plugins::systemd {
namespace {

using Lines = std::vector<std::string>;

// The target's options start on line 10.
constexpr char kHead[] =
    "version: v1\n"
    "log: {output: stderr}\n"
    "plugins: {}\n"
    "frontends: []\n"
    "targets:\n"
    "  - name: mc\n"
    "    kind: systemd:unit\n"
    "    idle_timeout: 300s\n"
    "    endpoints: [{name: game, protocol: tcp, address: \"198.18.0.2:25565\"}]\n";

struct Read {
  Lines errors;
  std::optional<UnitOptions> options;
};

Read ReadOptions(const std::string& options) {
  config::LoadResult r = config::LoadConfigString(std::string(kHead) + options, "t.yaml");
  EXPECT_TRUE(r.ok()) << r.ErrorText();
  Read out;
  if (!r.ok()) return out;
  std::vector<config::ConfigError> errors;
  config::ErrorSink sink("t.yaml", &errors);
  out.options = ReadUnitOptions(r.config->targets[0], sink);
  for (const auto& e : errors) out.errors.push_back(e.ToString());
  EXPECT_EQ(out.options.has_value(), out.errors.empty());
  return out;
}

TEST(SystemdUnitOptions, ReadsUnitAndStopTimeout) {
  Read r = ReadOptions("    options: {unit: minecraft.service, stop_timeout: 90s}\n");
  ASSERT_TRUE(r.options);
  EXPECT_EQ(r.options->unit, "minecraft.service");
  EXPECT_EQ(r.options->stop_timeout, std::chrono::seconds(90));
}

TEST(SystemdUnitOptions, StopTimeoutDefaultsToTenSeconds) {
  Read r = ReadOptions("    options: {unit: \"game@world1.service\"}\n");
  ASSERT_TRUE(r.options);
  EXPECT_EQ(r.options->stop_timeout, std::chrono::seconds(10));
}

TEST(SystemdUnitOptions, RequiresUnit) {
  EXPECT_EQ(ReadOptions("    options: {stop_timeout: 5s}\n").errors,
            Lines{"t.yaml:10:14: targets[0].options.unit: required field is missing"});
}

TEST(SystemdUnitOptions, RefusesWhatIsNotAServiceName) {
  EXPECT_EQ(ReadOptions("    options: {unit: minecraft}\n").errors,
            Lines{"t.yaml:10:21: targets[0].options.unit: expected a service unit name such as "
                  "\"minecraft.service\" (letters, digits and \":_.\\-\", an optional @instance), "
                  "got \"minecraft\""});
}

TEST(SystemdUnitOptions, RefusesUnknownOptionsAndBadDurations) {
  EXPECT_EQ(ReadOptions("    options:\n"
                        "      unit: a.service\n"
                        "      stop_timeout: 2h\n"
                        "      command: x\n")
                .errors,
            (Lines{"t.yaml:13:7: targets[0].options: unknown key \"command\" (expected one of: unit, "
                   "stop_timeout)",
                   "t.yaml:12:21: targets[0].options.stop_timeout: must be whole seconds from 1s "
                   "to 1h, got \"2h\""}));
}

TEST(SystemdUnitName, AcceptsServicesAndInstances) {
  for (const char* ok : {"minecraft.service", "game@world-1.service", "a:b_c.d\\x2d.service"}) {
    EXPECT_TRUE(IsServiceUnitName(ok)) << ok;
  }
}

TEST(SystemdUnitName, RefusesOtherUnitsTemplatesAndOddCharacters) {
  for (const char* bad : {"", ".service", "minecraft", "minecraft.socket", "game@.service",
                          "@x.service", "a b.service", "a/b.service", "a\".service",
                          "a@b@c.service"}) {
    EXPECT_FALSE(IsServiceUnitName(bad)) << bad;
  }
  EXPECT_TRUE(IsServiceUnitName(std::string(247, 'a') + ".service"));
  EXPECT_FALSE(IsServiceUnitName(std::string(248, 'a') + ".service"));
}

}  // namespace
}  // namespace plugins::systemd
