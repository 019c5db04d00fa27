// The valheim kinds' options: every error pinned exactly with its location,
// and the A2S_INFO they make.
#include "plugins/valheim/valheim_options.h"

#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <string>
#include <vector>

#include "plugins/valheim/server_frontend.h"
#include "plugins/valheim/status_frontend.h"
#include "proxygw-engine/config/loader.h"

namespace plugins::valheim {
namespace {

using Lines = std::vector<std::string>;

// The frontend starts on line 12 (column 5); options from line 17.
constexpr char kHead[] =
    "version: v1\n"
    "log: {output: stderr}\n"
    "plugins: {valheim: {}}\n"
    "targets:\n"
    "  - name: vh\n"
    "    kind: static:none\n"
    "    idle_timeout: 300s\n"
    "    endpoints:\n"
    "      - {name: query, protocol: udp, address: \"198.18.0.2:2457\"}\n"
    "      - {name: tcp, protocol: tcp, address: \"198.18.0.2:2457\"}\n"
    "frontends:\n"
    "  - name: vh\n"
    "    kind: valheim:status\n"
    "    flow_timeout: 60s\n"
    "    listen: \"0.0.0.0:2457\"\n";

config::Config Load(const std::string& rest) {
  config::LoadResult r = config::LoadConfigString(std::string(kHead) + rest, "t.yaml");
  EXPECT_TRUE(r.ok()) << r.ErrorText();
  return r.config.value_or(config::Config{});
}

Lines StatusErrors(const std::string& rest, std::optional<StatusOptions>* out = nullptr) {
  config::Config c = Load(rest);
  if (c.frontends.empty()) return {"no frontend"};
  std::vector<config::ConfigError> errors;
  config::ErrorSink sink("t.yaml", &errors);
  auto o = ReadStatusOptions(c.frontends[0], sink);
  if (out) *out = o;
  Lines lines;
  for (const auto& e : errors) lines.push_back(e.ToString());
  EXPECT_EQ(o.has_value(), lines.empty());
  return lines;
}

const std::string kQuery = "    target: vh:query\n";

TEST(ValheimStatusOptions, TheOriginalsExampleIsAccepted) {
  std::optional<StatusOptions> o;
  EXPECT_EQ(StatusErrors(kQuery + "    options:\n"
                                  "      name: \"My Valheim Server\"\n"
                                  "      version: \"0.221.12\"\n"
                                  "      password: true\n",
                         &o),
            Lines{});
  ASSERT_TRUE(o);
  EXPECT_EQ(o->name, "My Valheim Server");
  EXPECT_TRUE(o->password);
  EXPECT_FALSE(o->vac);
}

TEST(ValheimStatusOptions, NameAndVersionAreRequired) {
  EXPECT_EQ(StatusErrors(kQuery),
            (Lines{"t.yaml:12:5: frontends[0].options.name: required field is missing",
                   "t.yaml:12:5: frontends[0].options.version: required field is missing"}));
  EXPECT_EQ(StatusErrors(kQuery + "    options: {name: \"\", version: 1.0}\n"),
            (Lines{"t.yaml:17:21: frontends[0].options.name: must not be empty",
                   "t.yaml:17:34: frontends[0].options.version: expected a string, got the "
                   "number 1.0 (quote it to use it as text)"}));
}

TEST(ValheimStatusOptions, FlagsAreBooleans) {
  std::optional<StatusOptions> o;
  EXPECT_EQ(
      StatusErrors(kQuery + "    options: {name: a, version: b, password: no, vac: yes}\n", &o),
      Lines{});
  ASSERT_TRUE(o);
  EXPECT_FALSE(o->password);
  EXPECT_TRUE(o->vac);
  EXPECT_EQ(StatusErrors(kQuery + "    options: {name: a, version: b, password: \"true\"}\n"),
            Lines{"t.yaml:17:46: frontends[0].options.password: expected true or false, got the "
                  "string \"true\""});
}

TEST(ValheimStatusOptions, UnknownKeysAndControlCharacters) {
  EXPECT_EQ(StatusErrors(kQuery + "    options: {name: a, version: b, port: 2456}\n"),
            Lines{"t.yaml:17:36: frontends[0].options: unknown key \"port\" (expected one of: "
                  "name, version, password, vac)"});
  EXPECT_EQ(StatusErrors(kQuery + "    options: {name: \"a\\nb\", version: b}\n"),
            Lines{"t.yaml:17:21: frontends[0].options.name: must not contain control characters"});
}

TEST(ValheimStatusOptions, NeedsProtocolUdp) {
  EXPECT_EQ(StatusErrors("    target: vh:tcp\n    options: {name: a, version: b}\n"),
            Lines{"t.yaml:12:5: frontends[0]: valheim:status speaks Valheim's UDP protocols, "
                  "which need protocol udp"});
}

TEST(ValheimServerOptions, TakesNone) {
  config::Config c = Load(kQuery + "    options: {name: a}\n");
  ASSERT_FALSE(c.frontends.empty());
  std::vector<config::ConfigError> errors;
  config::ErrorSink sink("t.yaml", &errors);
  boost::asio::io_context io;
  EXPECT_EQ(NewServerFrontend({io, c.frontends[0], engine::Logger(), [] {}}, sink), nullptr);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].ToString(),
            "t.yaml:17:15: frontends[0].options: unknown key \"name\": nothing may be set here");
}

TEST(ValheimInfo, AsTheOriginalBuiltIt) {
  Info i = ValheimInfo({"Srv", "0.221.12", true, false}, 2457);
  EXPECT_EQ(i.name, "Srv");
  EXPECT_EQ(i.map, "Srv");
  EXPECT_EQ(i.folder, "valheim");
  EXPECT_EQ(i.port, 2456);
  EXPECT_EQ(i.keywords, "g=0.221.12,n=36,m=");
  EXPECT_EQ(i.game_id, 892970u);
  EXPECT_EQ(i.max_players, 10);
  EXPECT_TRUE(i.password);
}

}  // namespace
}  // namespace plugins::valheim
