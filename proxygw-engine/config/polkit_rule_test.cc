// The polkit rule written from the config (--write-polkit-rule): which units
// it names, that no unit name can change its code, and when it is written.
#include "proxygw-engine/config/polkit_rule.h"

#include <gtest/gtest.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "proxygw-engine/config/loader.h"

namespace config {
namespace {

constexpr char kConfig[] =
    "version: v1\n"
    "log: {output: stderr}\n"
    "plugins: {}\n"
    "frontends: []\n"
    "targets:\n"
    "  - {name: a, kind: systemd:unit, idle_timeout: 1m, options: {unit: mc.service},\n"
    "     endpoints: [{name: e, protocol: tcp, address: \"198.18.0.2:1\"}]}\n"
    "  - {name: b, kind: static:none, idle_timeout: 1m, options: {unit: no.service},\n"
    "     endpoints: [{name: e, protocol: tcp, address: \"198.18.0.2:2\"}]}\n"
    "  - {name: c, kind: systemd:unit, idle_timeout: 1m, options: {unit: mc.service},\n"
    "     endpoints: [{name: e, protocol: tcp, address: \"198.18.0.2:3\"}]}\n"
    "  - {name: d, kind: systemd:unit, idle_timeout: 1m, options: {unit: \"v@1.service\"},\n"
    "     endpoints: [{name: e, protocol: tcp, address: \"198.18.0.2:4\"}]}\n";

Config Load(const std::string& text) {
  LoadResult r = LoadConfigString(text, "t.yaml");
  EXPECT_TRUE(r.ok()) << r.ErrorText();
  return *r.config;
}

std::string Read(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class PolkitRuleFile : public ::testing::Test {
 protected:
  void SetUp() override {
    char tmpl[] = "/tmp/pgw-polkit-XXXXXX";
    ASSERT_NE(mkdtemp(tmpl), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }
  std::string dir_;
};

TEST(PolkitRule, NamesEachSystemdUnitOnce) {
  EXPECT_EQ(SystemdUnits(Load(kConfig)), (std::vector<std::string>{"mc.service", "v@1.service"}));
}

TEST(PolkitRule, FillsInUserAndUnits) {
  std::string text = PolkitRuleText("proxygw", {"mc.service", "v@1.service"});
  EXPECT_NE(text.find("subject.user != \"proxygw\""), std::string::npos) << text;
  EXPECT_NE(text.find("var units = [\"mc.service\",\"v@1.service\"];"), std::string::npos) << text;
  EXPECT_NE(text.find("org.freedesktop.systemd1.manage-units"), std::string::npos);
  EXPECT_EQ(text.find("@PROXYGW_"), std::string::npos) << text;
}

TEST(PolkitRule, UnitNamesStayStrings) {
  std::string text = PolkitRuleText("proxygw", {"x\"]; polkit.Result.YES; //"});
  EXPECT_NE(text.find("var units = [\"x\\\"]; polkit.Result.YES; //\"];"), std::string::npos)
      << text;
}

TEST_F(PolkitRuleFile, WritesTheRuleReadableByPolkitd) {
  std::string path = dir_ + "/50-proxygw.rules";
  ASSERT_TRUE(WritePolkitRule(Load(kConfig), "proxygw", path).ok());
  EXPECT_EQ(Read(path), PolkitRuleText("proxygw", {"mc.service", "v@1.service"}));
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0644u);
  // The same text again leaves the file alone (polkitd reloads on changes).
  ino_t inode = st.st_ino;
  ASSERT_TRUE(WritePolkitRule(Load(kConfig), "proxygw", path).ok());
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_ino, inode);
}

TEST_F(PolkitRuleFile, WithoutPolkitOnlyAConfigWithUnitsFails) {
  std::string path = dir_ + "/no-polkit/50-proxygw.rules";
  std::string none =
      "version: v1\nlog: {output: stderr}\nplugins: {}\nfrontends: []\ntargets:\n"
      "  - {name: b, kind: static:none, idle_timeout: 1m,\n"
      "     endpoints: [{name: e, protocol: tcp, address: \"198.18.0.2:2\"}]}\n";
  EXPECT_TRUE(WritePolkitRule(Load(none), "proxygw", path).ok());
  EXPECT_FALSE(std::filesystem::exists(path));
  common::Status st = WritePolkitRule(Load(kConfig), "proxygw", path);
  EXPECT_EQ(st.message(), "no " + dir_ +
                              "/no-polkit: systemd:unit targets need polkit (Debian: apt install "
                              "polkitd) to let the engine's user start and stop their units");
}

}  // namespace
}  // namespace config
