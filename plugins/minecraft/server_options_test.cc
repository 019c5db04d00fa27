// minecraft:server's options: every error pinned exactly with its location
// (configs loaded from YAML text, as the engine loads them).
#include "plugins/minecraft/server_options.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <cstdio>
#include <fstream>
#include <string>
#include <vector>

#include "plugins/minecraft/server_frontend.h"
#include "proxygw-engine/config/loader.h"

namespace plugins::minecraft {
namespace {

using Lines = std::vector<std::string>;

// Lines 1-14; the frontend starts on line 12 (column 5), `listen` is line
// 15, `target` line 16, options from line 17.
constexpr char kHead[] =
    "version: v1\n"
    "log: {output: stderr}\n"
    "plugins: {minecraft: {}}\n"
    "targets:\n"
    "  - name: mc\n"
    "    kind: static:none\n"
    "    idle_timeout: 300s\n"
    "    endpoints:\n"
    "      - {name: game, protocol: tcp, address: \"198.18.0.2:25565\"}\n"
    "      - {name: udp, protocol: udp, address: \"198.18.0.2:25565\"}\n"
    "frontends:\n"
    "  - name: mc\n"
    "    kind: minecraft:server\n"
    "    flow_timeout: 60s\n"
    "    listen: \"0.0.0.0:25565\"\n";

struct Built {
  Lines errors;
  std::optional<ServerOptions> options;
};

Built Build(const std::string& rest) {
  config::LoadResult r = config::LoadConfigString(std::string(kHead) + rest, "t.yaml");
  EXPECT_TRUE(r.ok()) << r.ErrorText();
  Built b;
  if (!r.ok()) return b;
  std::vector<config::ConfigError> errors;
  config::ErrorSink sink("t.yaml", &errors);
  b.options = ReadServerOptions(r.config->frontends[0], sink);
  for (const auto& e : errors) b.errors.push_back(e.ToString());
  EXPECT_EQ(b.options.has_value(), b.errors.empty());
  return b;
}

Lines Errors(const std::string& rest) { return Build(rest).errors; }

const std::string kGame = "    target: mc:game\n";

TEST(McServerOptions, NoOptionsMeansTheDefaults) {
  Built b = Build(kGame);
  ASSERT_TRUE(b.options);
  EXPECT_EQ(b.options->version_name, "proxygw-minecraft");
  EXPECT_EQ(b.options->protocol, std::nullopt);
  EXPECT_EQ(b.options->max_players, 0);
  EXPECT_TRUE(b.options->wake_allow.empty());
  EXPECT_EQ(Errors(kGame + "    options:\n"), Lines{});
}

TEST(McServerOptions, TheOriginalsExampleIsAccepted) {
  Built b = Build(kGame +
                  "    options:\n"
                  "      login: \"Server is starting, please reconnect in a moment.\"\n"
                  "      motd: \"Server is sleeping\"\n");
  ASSERT_TRUE(b.options);
  EXPECT_EQ(b.options->login, "Server is starting, please reconnect in a moment.");
  EXPECT_EQ(b.options->motd, "Server is sleeping");
}

TEST(McServerOptions, EveryOptionAccepted) {
  Built b = Build(kGame +
                  "    options:\n"
                  "      motd: Zzz\n"
                  "      starting_motd: Starting\n"
                  "      login: Later\n"
                  "      not_allowed: Nope\n"
                  "      version_name: \"1.21.4\"\n"
                  "      protocol: 769\n"
                  "      max_players: 20\n"
                  "      wake_allow: [Steve, alex_01]\n");
  ASSERT_TRUE(b.options);
  EXPECT_EQ(b.options->protocol, 769);
  EXPECT_EQ(b.options->max_players, 20);
  EXPECT_EQ(b.options->wake_allow, (std::vector<std::string>{"steve", "alex_01"}));
  EXPECT_TRUE(MayWake(*b.options, "STEVE"));
  EXPECT_TRUE(MayWake(*b.options, "Alex_01"));
  EXPECT_FALSE(MayWake(*b.options, "Herobrine"));
}

TEST(McServerOptions, UnknownKeyIsAnError) {
  EXPECT_EQ(Errors(kGame + "    options:\n"
                           "      mtod: x\n"),
            Lines{"t.yaml:18:7: frontends[0].options: unknown key \"mtod\" (did you mean "
                  "\"motd\"?)"});
  EXPECT_EQ(Errors(kGame + "    options:\n"
                           "      port: 25565\n"),
            Lines{"t.yaml:18:7: frontends[0].options: unknown key \"port\" (expected one of: "
                  "motd, login, starting_motd, not_allowed, version_name, protocol, max_players, "
                  "favicon, wake_allow)"});
}

TEST(McServerOptions, TextsMustBeShortStrings) {
  EXPECT_EQ(Errors(kGame + "    options:\n"
                           "      motd: 42\n"),
            Lines{"t.yaml:18:13: frontends[0].options.motd: expected a string, got the number 42 "
                  "(quote it to use it as text)"});
  EXPECT_EQ(Errors(kGame + "    options:\n      login: " + std::string(513, 'x') + "\n"),
            Lines{"t.yaml:18:14: frontends[0].options.login: must be at most 512 bytes, got 513"});
}

TEST(McServerOptions, NumbersMustBeInRange) {
  const std::string head = kGame + "    options:\n";
  EXPECT_EQ(Errors(head + "      protocol: -1\n"),
            Lines{"t.yaml:18:17: frontends[0].options.protocol: expected a whole number from 0 "
                  "to 2147483647, got the number -1"});
  EXPECT_EQ(Errors(head + "      protocol: \"767\"\n"),
            Lines{"t.yaml:18:17: frontends[0].options.protocol: expected a whole number from 0 "
                  "to 2147483647, got the string \"767\""});
  EXPECT_EQ(Errors(head + "      max_players: 2147483648\n"),
            Lines{"t.yaml:18:20: frontends[0].options.max_players: expected a whole number from "
                  "0 to 2147483647, got the number 2147483648"});
  EXPECT_EQ(Errors(head + "      max_players: 1.5\n"),
            Lines{"t.yaml:18:20: frontends[0].options.max_players: expected a whole number from "
                  "0 to 2147483647, got the number 1.5"});
  EXPECT_EQ(Errors(head + "      max_players:\n"),
            Lines{"t.yaml:18:7: frontends[0].options.max_players: expected a whole number from "
                  "0 to 2147483647, got null"});
}

TEST(McServerOptions, WakeAllowHoldsPlayerNames) {
  const std::string head = kGame + "    options:\n";
  EXPECT_EQ(Errors(head + "      wake_allow: Steve\n"),
            Lines{"t.yaml:18:19: frontends[0].options.wake_allow: expected a list of player "
                  "names, got the string \"Steve\""});
  EXPECT_EQ(Errors(head + "      wake_allow: [Steve, \"two words\", 17, seventeen_letters]\n"),
            (Lines{"t.yaml:18:27: frontends[0].options.wake_allow[1]: a player name has 1 to 16 "
                   "letters, digits or \"_\", got \"two words\"",
                   "t.yaml:18:40: frontends[0].options.wake_allow[2]: expected a string, got the "
                   "number 17 (quote it to use it as text)",
                   "t.yaml:18:44: frontends[0].options.wake_allow[3]: a player name has 1 to 16 "
                   "letters, digits or \"_\", got \"seventeen_letters\""}));
}

TEST(McServerOptions, FaviconMustBeAReadable64x64Png) {
  const std::string head = kGame + "    options:\n";
  EXPECT_EQ(Errors(head + "      favicon: icon.png\n"),
            Lines{"t.yaml:18:16: frontends[0].options.favicon: must be an absolute path to a "
                  "64x64 PNG file, got \"icon.png\""});
  EXPECT_EQ(Errors(head + "      favicon: /nonexistent/icon.png\n"),
            Lines{"t.yaml:18:16: frontends[0].options.favicon: cannot read "
                  "/nonexistent/icon.png: No such file or directory"});
  char path[] = "/tmp/mc-favicon-XXXXXX";
  int fd = ::mkstemp(path);
  ASSERT_GE(fd, 0);
  ::close(fd);
  { std::ofstream(path) << "not a png"; }
  EXPECT_EQ(Errors(head + "      favicon: " + path + "\n"),
            Lines{"t.yaml:18:16: frontends[0].options.favicon: " + std::string(path) +
                  " is not a PNG image"});
  std::remove(path);
}

TEST(McServerOptions, NeedsProtocolTcp) {
  EXPECT_EQ(Errors("    target: mc:udp\n"),
            Lines{"t.yaml:12:5: frontends[0]: minecraft:server speaks the Java Edition protocol, "
                  "which needs protocol tcp"});
}

TEST(McServerOptions, TheFactoryReportsTheSameErrors) {
  config::LoadResult r =
      config::LoadConfigString(std::string(kHead) + kGame + "    options: {motd: [x]}\n", "t.yaml");
  ASSERT_TRUE(r.ok()) << r.ErrorText();
  boost::asio::io_context io;
  std::vector<config::ConfigError> errors;
  config::ErrorSink sink("t.yaml", &errors);
  auto h = NewServerFrontend({io, r.config->frontends[0], engine::Logger(), [] {}}, sink, {});
  EXPECT_EQ(h, nullptr);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].ToString(),
            "t.yaml:17:21: frontends[0].options.motd: expected a string, got a list");
}

}  // namespace
}  // namespace plugins::minecraft
