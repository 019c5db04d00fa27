// The config path used without --config, in a temporary root.
#include "proxygw-engine/config/default_path.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>

namespace config {
namespace {

namespace fs = std::filesystem;

class DefaultConfigPath : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgw-etc-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    root_ = tmpl;
    fs::create_directories(root_ / "etc/proxygw");
  }
  void TearDown() override { fs::remove_all(root_); }
  void Touch(const char* path) { std::ofstream(root_.string() + path) << "version: v1\n"; }

  fs::path root_;
};

TEST_F(DefaultConfigPath, OursWhenNeitherExists) {
  DefaultConfig d = ResolveDefaultConfig(root_);
  EXPECT_EQ(d.path, root_.string() + "/etc/proxygw/proxygw.yaml");
  EXPECT_EQ(d.notice, "");
}

TEST_F(DefaultConfigPath, OursWhenBothExist) {
  Touch("/etc/proxygw/proxygw.yaml");
  Touch("/etc/proxygw.yaml");
  DefaultConfig d = ResolveDefaultConfig(root_);
  EXPECT_EQ(d.path, root_.string() + "/etc/proxygw/proxygw.yaml");
  EXPECT_EQ(d.notice, "");
}

// The original daemon's default path was /etc/proxygw.yaml: a host upgraded
// from it kept working only with --config.
TEST_F(DefaultConfigPath, TheOriginalsWhenOnlyItExistsWithANotice) {
  Touch("/etc/proxygw.yaml");
  DefaultConfig d = ResolveDefaultConfig(root_);
  const std::string r = root_.string();
  EXPECT_EQ(d.path, r + "/etc/proxygw.yaml");
  EXPECT_EQ(d.notice, "no " + r + "/etc/proxygw/proxygw.yaml; using " + r +
                          "/etc/proxygw.yaml (the original proxygw's default path; move it to " +
                          r + "/etc/proxygw/proxygw.yaml to silence this)");
}

}  // namespace
}  // namespace config
