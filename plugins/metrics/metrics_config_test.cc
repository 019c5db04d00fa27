// plugins.metrics: the listen address and its errors, pinned exactly with
// their locations (configs loaded from YAML text, as the engine loads them).
#include "plugins/metrics/metrics_config.h"

#include <gtest/gtest.h>

#include "proxygw-engine/config/loader.h"

namespace metrics_plugin {
namespace {

// Line 3 holds the metrics section; a TCP frontend listens on
// 0.0.0.0:8080 and a UDP one on 198.18.0.1:9464.
std::string Yaml(const std::string& metrics) {
  return "version: v1\nlog: {output: stderr}\n"
         "plugins: {metrics: " +
         metrics +
         "}\n"
         "targets:\n"
         "  - {name: t, kind: 'static:none', idle_timeout: 1m, endpoints: [{name: w, protocol: "
         "tcp, address: '198.18.2.2:80'}, {name: u, protocol: udp, address: "
         "'198.18.2.2:9464'}]}\n"
         "frontends:\n"
         "  - {name: web, kind: 'static:http', listen: '0.0.0.0:8080', flow_timeout: 1m, "
         "target: 't:w'}\n"
         "  - {name: game, kind: 'static:always', listen: '198.18.0.1:9464', flow_timeout: 1m, "
         "target: 't:u'}\n";
}

struct Parsed {
  std::optional<MetricsConfig> config;
  std::vector<std::string> errors;
};

Parsed Read(const std::string& metrics) {
  auto loaded = config::LoadConfigString(Yaml(metrics), "proxygw.yaml");
  EXPECT_TRUE(loaded.ok()) << loaded.ErrorText();
  const config::Config& cfg = *loaded.config;
  std::vector<config::ConfigError> errs;
  config::ErrorSink sink("proxygw.yaml", &errs);
  Parsed p;
  const config::Options* o = cfg.PluginOptions("metrics");
  EXPECT_NE(o, nullptr);
  if (o == nullptr) return p;
  p.config = ReadMetricsConfig(*o, cfg, sink);
  for (const auto& e : errs) p.errors.push_back(e.ToString());
  EXPECT_EQ(p.config.has_value(), errs.empty());
  return p;
}

std::vector<std::string> Errors(const std::string& metrics) { return Read(metrics).errors; }

TEST(MetricsConfig, ReadsAnIpv4OrIpv6Listen) {
  auto p = Read("{listen: '127.0.0.1:9464'}");
  ASSERT_TRUE(p.config);
  EXPECT_EQ(p.config->listen.ToString(), "127.0.0.1:9464");
  EXPECT_EQ(p.config->listen_path, "plugins.metrics.listen");
  EXPECT_EQ(p.config->listen_location.line, 3);
  EXPECT_EQ(p.config->listen_location.column, 29);
  p = Read("{listen: '[::1]:9464'}");
  ASSERT_TRUE(p.config);
  EXPECT_EQ(p.config->listen.ToString(), "[::1]:9464");
  // The UDP frontend's port is no conflict: the metrics are TCP.
  EXPECT_TRUE(Read("{listen: '198.18.0.1:9464'}").config);
  EXPECT_TRUE(Read("{listen: '[2001:db8::1]:8080'}").config) << "0.0.0.0 is IPv4 only";
}

TEST(MetricsConfig, ListenIsRequired) {
  EXPECT_EQ(Errors("{}"),
            std::vector<std::string>{
                "proxygw.yaml:3:20: plugins.metrics.listen: required field is missing"});
  EXPECT_EQ(Errors("~"),
            std::vector<std::string>{
                "proxygw.yaml:3:11: plugins.metrics.listen: required field is missing"});
}

TEST(MetricsConfig, BadListensAreLocated) {
  EXPECT_EQ(Errors("{listen: 9464}"),
            std::vector<std::string>{"proxygw.yaml:3:29: plugins.metrics.listen: expected a "
                                     "string, got the number 9464 (quote it to use it as text)"});
  EXPECT_EQ(Errors("{listen: '9464'}"),
            std::vector<std::string>{"proxygw.yaml:3:29: plugins.metrics.listen: expected "
                                     "\"ip:port\" or \"[ipv6]:port\", got \"9464\""});
  EXPECT_EQ(Errors("{listen: '127.0.0.1:0'}"),
            std::vector<std::string>{
                "proxygw.yaml:3:29: plugins.metrics.listen: port 0 is not allowed in "
                "\"127.0.0.1:0\""});
  EXPECT_EQ(Errors("{listen: '[::ffff:127.0.0.1]:9464'}"),
            std::vector<std::string>{"proxygw.yaml:3:29: plugins.metrics.listen: IPv4-mapped IPv6 "
                                     "address \"[::ffff:127.0.0.1]:9464\" is not supported; write "
                                     "the IPv4 form"});
  EXPECT_EQ(Errors("{listen: '224.0.0.1:9464'}"),
            std::vector<std::string>{"proxygw.yaml:3:29: plugins.metrics.listen: multicast "
                                     "address \"224.0.0.1:9464\" cannot be listened on"});
  EXPECT_EQ(Errors("{listen: '127.0.0.1:9464', port: 1}"),
            std::vector<std::string>{"proxygw.yaml:3:47: plugins.metrics: unknown key \"port\" "
                                     "(expected one of: listen)"});
}

TEST(MetricsConfig, ATcpFrontendsPortIsRefused) {
  EXPECT_EQ(Errors("{listen: '198.18.0.1:8080'}"),
            std::vector<std::string>{
                "proxygw.yaml:3:29: plugins.metrics.listen: \"198.18.0.1:8080\" overlaps "
                "frontends[0].listen (\"0.0.0.0:8080\", tcp); give the metrics another port"});
  EXPECT_EQ(Errors("{listen: '[::]:8080'}"),
            std::vector<std::string>{
                "proxygw.yaml:3:29: plugins.metrics.listen: \"[::]:8080\" overlaps "
                "frontends[0].listen (\"0.0.0.0:8080\", tcp); give the metrics another port"});
}

}  // namespace
}  // namespace metrics_plugin
