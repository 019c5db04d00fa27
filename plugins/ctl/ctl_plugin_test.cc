// The ctl plugin as the engine loads it: its config, its socket, its unload.
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/unique_fd.h"
#include "plugins/ctl/ctl_server_testing.h"
#include "proxygw-engine/plugin_api.h"

extern const engine::PluginDef proxygw_plugin_ctl;

namespace ctl_plugin {
namespace {

class CtlPlugin : public CtlServer {
 protected:
  // Loads the plugin with `yaml` as the config file's text; returns the
  // errors as the engine prints them.
  // With `yaml` empty, the config has no plugins.ctl section.
  std::vector<std::string> Load(const std::string& yaml, bool start) {
    const config::Options* options = nullptr;
    if (!yaml.empty()) {
      root_ = YAML::Load(yaml);
      options_.node = root_["plugins"]["ctl"];
      options_.path = "plugins.ctl";
      options_.location = config::LocationOf(options_.node);
      options = &options_;
    }
    std::vector<config::ConfigError> errs;
    config::ErrorSink sink("proxygw.yaml", &errs);
    engine::PluginContext ctx{io_, control_, cfg_, options, "ctl", engine::Logger()};
    engine::Namespace ns;
    proxygw_plugin_ctl.load(ctx, ns, sink, start, &instance_);
    EXPECT_TRUE(ns.frontends.empty());
    EXPECT_TRUE(ns.targets.empty());
    std::vector<std::string> out;
    for (const auto& e : errs) out.push_back(e.ToString());
    EXPECT_EQ(instance_ != nullptr, start && out.empty() && options != nullptr);
    return out;
  }
  std::string Yaml() { return "plugins:\n  ctl:\n    socket: " + config_.socket + "\n"; }

  YAML::Node root_;
  config::Config cfg_;
  config::Options options_;
  std::unique_ptr<engine::PluginInstance> instance_;
};

TEST_F(CtlPlugin, CheckOnlyTouchesNothing) {
  EXPECT_TRUE(Load(Yaml(), /*start=*/false).empty());
  EXPECT_FALSE(std::filesystem::exists(config_.socket));
}

// configs/README.md: plugins may be {}. The original required the section.
TEST_F(CtlPlugin, NoSectionNoSocket) {
  EXPECT_TRUE(Load("", /*start=*/false).empty());
  EXPECT_TRUE(Load("", /*start=*/true).empty());
  EXPECT_EQ(instance_, nullptr);
  EXPECT_FALSE(std::filesystem::exists(config_.socket));
  // A section without settings is a section without its socket.
  EXPECT_EQ(Load("plugins:\n  ctl: {}\n", /*start=*/false),
            std::vector<std::string>{
                "proxygw.yaml:2:8: plugins.ctl.socket: required field is missing"});
}

TEST_F(CtlPlugin, ServesUntilUnloadThenRemovesTheSocket) {
  ASSERT_TRUE(Load(Yaml() + "    mode: \"0600\"\n    codec: CBOR\n", /*start=*/true).empty());
  struct stat st {};
  ASSERT_EQ(::stat(config_.socket.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  RunLoop();
  Client c(config_.socket);
  ASSERT_TRUE(c.Send(wire::EncodePacket(wire::Codec::kCbor, 1, wire::WarmTargetRequest{"api"})));
  auto raw = c.Packet(wire::Codec::kCbor);
  ASSERT_TRUE(raw.has_value());
  EXPECT_EQ(nlohmann::json::from_cbor(*raw).dump(), R"({"body":{},"id":1,"method":9})");
  io_.stop();
  thread_.join();
  instance_->Unload();  // B2: the original left the socket file behind
  EXPECT_FALSE(std::filesystem::exists(config_.socket));
  EXPECT_TRUE(c.ClosedByPeer());
  instance_.reset();
}

TEST_F(CtlPlugin, ReplacesAStaleSocketFile) {
  {
    common::UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_un addr = Addr(config_.socket);
    ASSERT_EQ(::bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  }
  ASSERT_TRUE(std::filesystem::exists(config_.socket));
  EXPECT_TRUE(Load(Yaml(), /*start=*/true).empty());
  instance_->Unload();
}

TEST_F(CtlPlugin, RefusesASocketAnotherEngineServes) {
  Start();  // the other engine
  EXPECT_EQ(Load(Yaml(), /*start=*/true),
            std::vector<std::string>{"proxygw.yaml:3:13: plugins.ctl.socket: ctl socket \"" +
                                     config_.socket +
                                     "\" is in use: another proxygw-engine is running and "
                                     "accepting connections on it; stop it first"});
  Client c(config_.socket);  // the other one still serves
  ASSERT_TRUE(c.Send(Request(1, wire::StatusRequest{})));
  EXPECT_EQ(c.Line(), kSampleStatusLine);
}

TEST_F(CtlPlugin, RefusesToReplaceAFile) {
  std::ofstream(config_.socket) << "data\n";
  EXPECT_EQ(Load(Yaml(), /*start=*/true),
            std::vector<std::string>{"proxygw.yaml:3:13: plugins.ctl.socket: ctl socket \"" +
                                     config_.socket +
                                     "\": the path exists and is not a socket; refusing to "
                                     "replace it (remove it, or choose another path)"});
  EXPECT_TRUE(std::filesystem::is_regular_file(config_.socket));
}

TEST_F(CtlPlugin, ConfigErrorsAreLocated) {
  EXPECT_EQ(Load("plugins:\n  ctl:\n    socket: relative.sock\n    codec: xml\n    user: x\n",
                 /*start=*/true),
            (std::vector<std::string>{
                "proxygw.yaml:5:5: plugins.ctl: unknown key \"user\" (expected one of: socket, "
                "codec, mode, allow_users, allow_groups)",
                "proxygw.yaml:3:13: plugins.ctl.socket: must be an absolute path, got "
                "\"relative.sock\"",
                "proxygw.yaml:4:12: plugins.ctl.codec: invalid codec \"xml\": expected \"json\" "
                "or \"cbor\""}));
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/relative.sock"));
}

}  // namespace
}  // namespace ctl_plugin
