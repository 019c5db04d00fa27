#include "proxygwctl/ctl_settings.h"

#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace proxygwctl {
namespace {

class CtlSettingsFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/ctl-settings-test.XXXXXX";
    ASSERT_NE(::mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
    path_ = dir_ + "/proxygw.yaml";
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  common::Result<CtlSettings> Read(const std::string& yaml) {
    std::ofstream(path_) << yaml;
    return ReadCtlSettings(path_);
  }
  std::string Error(const std::string& yaml) {
    auto r = Read(yaml);
    EXPECT_FALSE(r.ok());
    return r.ok() ? "" : r.status().message();
  }

  std::string dir_;
  std::string path_;
};

// B25: the original validated the whole file; an engine config with errors
// elsewhere (or from a newer version) still tells the client its socket.
TEST_F(CtlSettingsFile, ReadsOnlyTheCtlSection) {
  auto r = Read(
      "version: v99\n"
      "log: {output: nowhere, level: LOUD}\n"
      "plugins:\n"
      "  static: 12\n"
      "  ctl:\n"
      "    socket: /run/proxygw/ctl.sock\n"
      "    codec: ' Cbor'\n"
      "    extra: ignored\n"
      "targets: nope\n");
  ASSERT_TRUE(r.ok()) << r.status().message();
  EXPECT_EQ(r->socket, "/run/proxygw/ctl.sock");
  EXPECT_EQ(r->codec, ipc::ctl::Codec::kCbor);
  r = Read("plugins: {ctl: {socket: /s, codec: ''}}\n");
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(r->codec, ipc::ctl::Codec::kJson);
}

TEST_F(CtlSettingsFile, Errors) {
  const std::string f = "config \"" + path_ + "\"";
  EXPECT_EQ(Error("version: v1\n"), f + " does not define plugins.ctl");
  EXPECT_EQ(Error("plugins: {static: {}}\n"), f + " does not define plugins.ctl");
  EXPECT_EQ(Error("- a\n"), f + " does not define plugins.ctl");
  EXPECT_EQ(Error("plugins:\n  ctl:\n"), f + " is missing plugins.ctl.socket");
  EXPECT_EQ(Error("plugins:\n  ctl:\n    codec: json\n"), f + " is missing plugins.ctl.socket");
  EXPECT_EQ(Error("plugins:\n  ctl:\n    socket: ctl.sock\n"),
            f + ", line 3: plugins.ctl.socket must be an absolute path, got \"ctl.sock\"");
  EXPECT_EQ(Error("plugins:\n  ctl:\n    socket: [a]\n"),
            f + ", line 3: plugins.ctl.socket must be an absolute path, got no text");
  EXPECT_EQ(Error("plugins:\n  ctl:\n    socket: /s\n    codec: xml\n"),
            f + " has invalid plugins.ctl.codec \"xml\"");
  EXPECT_EQ(Error("plugins:\n  ctl: [\n"),
            f + ": invalid YAML at line 3, column 1: end of sequence flow not found");
  std::filesystem::remove(path_);
  auto r = ReadCtlSettings(path_);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().message(), f + ": No such file or directory");
}

}  // namespace
}  // namespace proxygwctl
