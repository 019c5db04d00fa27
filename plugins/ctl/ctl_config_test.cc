#include "plugins/ctl/ctl_config.h"

#include <gtest/gtest.h>

namespace ctl_plugin {
namespace {

// A config file's plugins section, so that locations are real.
struct Parsed {
  std::optional<CtlConfig> config;
  std::vector<std::string> errors;
};

Parsed Read(const std::string& yaml) {
  YAML::Node root = YAML::Load(yaml);
  // As the loader does: a null section is located at its key.
  config::Options o;
  o.path = "plugins.ctl";
  for (const auto& kv : root["plugins"]) {
    if (kv.first.Scalar() != "ctl") continue;
    o.node = kv.second;
    o.location = config::LocationOf(kv.second.IsNull() ? kv.first : kv.second);
  }
  std::vector<config::ConfigError> errs;
  config::ErrorSink sink("proxygw.yaml", &errs);
  Parsed p;
  p.config = ReadCtlConfig(o, sink);
  for (const auto& e : errs) p.errors.push_back(e.ToString());
  EXPECT_EQ(p.config.has_value(), errs.empty());
  return p;
}

std::vector<std::string> Errors(const std::string& yaml) { return Read(yaml).errors; }

TEST(CtlConfig, Defaults) {
  auto p = Read("plugins:\n  ctl:\n    socket: /run/proxygw/ctl.sock\n");
  ASSERT_TRUE(p.config);
  EXPECT_EQ(p.config->socket, "/run/proxygw/ctl.sock");
  EXPECT_EQ(p.config->codec, ipc::ctl::Codec::kJson);
  EXPECT_EQ(p.config->mode, 0660u);
  EXPECT_EQ(p.config->socket_path, "plugins.ctl.socket");
  EXPECT_EQ(p.config->socket_location.line, 3);
  EXPECT_EQ(p.config->socket_location.column, 13);
}

TEST(CtlConfig, AllowListsTakeNamesAndIds) {
  auto p = Read(
      "plugins:\n  ctl:\n    socket: /s\n    allow_users: [root, 1001]\n"
      "    allow_groups: [root, 27]\n");
  ASSERT_TRUE(p.config);
  EXPECT_EQ(p.config->allow_users, (std::vector<uid_t>{0, 1001}));
  EXPECT_EQ(p.config->allow_groups, (std::vector<gid_t>{0, 27}));
}

TEST(CtlConfig, AllowListErrorsAreLocated) {
  EXPECT_EQ(Errors("plugins:\n  ctl:\n    socket: /s\n    allow_users: [pgw-no-such-user]\n"
                   "    allow_groups: wheel\n"),
            (std::vector<std::string>{
                "proxygw.yaml:4:19: plugins.ctl.allow_users[0]: no user \"pgw-no-such-user\"",
                "proxygw.yaml:5:19: plugins.ctl.allow_groups: expected a list of group names or "
                "ids, got the string \"wheel\""}));
}

TEST(CtlConfig, CodecAndModeForms) {
  auto p = Read("plugins:\n  ctl:\n    socket: /s\n    codec: ' CBOR '\n    mode: \"0600\"\n");
  ASSERT_TRUE(p.config);
  EXPECT_EQ(p.config->codec, ipc::ctl::Codec::kCbor);
  EXPECT_EQ(p.config->mode, 0600u);
  // Unquoted, YAML reads 0660 as an integer: its text is what was meant.
  p = Read("plugins:\n  ctl:\n    socket: /s\n    codec: json\n    mode: 0666\n");
  ASSERT_TRUE(p.config);
  EXPECT_EQ(p.config->mode, 0666u);
  p = Read("plugins:\n  ctl:\n    socket: /s\n    codec: ''\n    mode: 640\n");
  ASSERT_TRUE(p.config);
  EXPECT_EQ(p.config->codec, ipc::ctl::Codec::kJson);
  EXPECT_EQ(p.config->mode, 0640u);
}

TEST(CtlConfig, ErrorsAreLocated) {
  EXPECT_EQ(Errors("plugins:\n  ctl:\n    codec: json\n"),
            std::vector<std::string>{
                "proxygw.yaml:3:5: plugins.ctl.socket: required field is missing"});
  EXPECT_EQ(Errors("plugins:\n  ctl:\n"),
            std::vector<std::string>{
                "proxygw.yaml:2:3: plugins.ctl.socket: required field is missing"});
  EXPECT_EQ(Errors("plugins:\n  ctl:\n    socket: run/ctl.sock\n    sockt: /x\n"),
            (std::vector<std::string>{
                "proxygw.yaml:4:5: plugins.ctl: unknown key \"sockt\" (did you mean \"socket\"?)",
                "proxygw.yaml:3:13: plugins.ctl.socket: must be an absolute path, got "
                "\"run/ctl.sock\""}));
  EXPECT_EQ(Errors("plugins:\n  ctl:\n    socket: /" + std::string(107, 'a') + "\n"),
            std::vector<std::string>{
                "proxygw.yaml:3:13: plugins.ctl.socket: socket path is 108 bytes; the limit is "
                "107"});
  EXPECT_EQ(Errors("plugins:\n  ctl:\n    socket: 42\n"),
            std::vector<std::string>{
                "proxygw.yaml:3:13: plugins.ctl.socket: expected a string, got the number 42 "
                "(quote it to use it as text)"});
  EXPECT_EQ(Errors("plugins:\n  ctl:\n    socket: /s\n    codec: msgpack\n"),
            std::vector<std::string>{
                "proxygw.yaml:4:12: plugins.ctl.codec: invalid codec \"msgpack\": expected "
                "\"json\" or \"cbor\""});
  EXPECT_EQ(Errors("plugins:\n  ctl:\n    socket: /s\n    mode: rw-rw----\n"),
            std::vector<std::string>{
                "proxygw.yaml:4:11: plugins.ctl.mode: expected an octal file mode such as "
                "\"0660\", got the string \"rw-rw----\""});
  EXPECT_EQ(Errors("plugins:\n  ctl:\n    socket: /s\n    mode: \"4755\"\n"),
            std::vector<std::string>{
                "proxygw.yaml:4:11: plugins.ctl.mode: expected an octal file mode such as "
                "\"0660\", got the string \"4755\""});
  EXPECT_EQ(Errors("plugins:\n  ctl:\n    socket: /s\n    mode:\n"),
            std::vector<std::string>{
                "proxygw.yaml:4:5: plugins.ctl.mode: expected an octal file mode such as "
                "\"0660\", got null"});
  EXPECT_EQ(Errors("plugins:\n  ctl: [/s]\n"),
            std::vector<std::string>{"proxygw.yaml:2:8: plugins.ctl: expected a mapping, got a list"});
}

}  // namespace
}  // namespace ctl_plugin
