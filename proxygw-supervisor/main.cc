// proxygw: the supervisor (see supervisor.h). main() reads the command line,
// loads and checks the config, and hands over to supervisor::Run.
#include <unistd.h>

#include <climits>
#include <cstdlib>
#include <cstdio>
#include <optional>
#include <string>

#include <CLI/CLI.hpp>

#include "plugins/ctl/ctl_config.h"
#include "proxygw-engine/config/default_path.h"
#include "proxygw-engine/config/loader.h"
#include "proxygw-supervisor/supervisor.h"

namespace {

// The directory of this executable: netd and the engine are found next to it
// unless given.
std::string SelfDir() {
  char buf[PATH_MAX];
  ssize_t n = readlink("/proc/self/exe", buf, sizeof buf - 1);
  if (n <= 0) return ".";
  std::string p(buf, static_cast<std::size_t>(n));
  return p.substr(0, p.rfind('/'));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "proxygw: runs proxygw-netd and proxygw-engine with their own users and privileges, "
      "restarts them if they crash, and stops them in order.\n"
      "Exit codes: 0 stopped by SIGTERM/SIGINT, 1 start-up failed (one line says why), "
      "2 bad command line."};
  supervisor::Options opt;

  std::string dir = SelfDir();
  opt.netd_binary = dir + "/proxygw-netd";
  opt.engine_binary = dir + "/proxygw-engine";
  app.add_option("--config", opt.config_path,
                 std::string("The config file (default ") + config::kDefaultConfigPath + ", or " +
                     config::kOriginalConfigPath + " when only that one exists)");
  app.add_option("--netd", opt.netd_binary, "The proxygw-netd binary")->capture_default_str();
  app.add_option("--engine", opt.engine_binary, "The proxygw-engine binary")->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  if (opt.config_path.empty()) {
    config::DefaultConfig d = config::ResolveDefaultConfig();
    if (!d.notice.empty()) std::fprintf(stderr, "proxygw: %s\n", d.notice.c_str());
    opt.config_path = d.path;
  }
  // The engine runs from "/": give it an absolute path.
  if (char* abs = realpath(opt.config_path.c_str(), nullptr)) {
    opt.config_path = abs;
    free(abs);
  }
  config::LoadResult r = config::LoadConfigFile(opt.config_path);
  // The supervisor binds the ctl socket for the engine: plugins.ctl must be
  // valid to the plugin's own reader.
  std::optional<ctl_plugin::CtlConfig> ctl;
  if (r.ok()) {
    if (const config::Options* o = r.config->PluginOptions("ctl")) {
      config::ErrorSink sink(r.config->file, &r.errors);
      ctl = ctl_plugin::ReadCtlConfig(*o, sink);
    }
  }
  if (!r.ok()) {
    std::fputs(r.ErrorText().c_str(), stderr);
    std::fprintf(stderr, "proxygw: %zu error%s in %s\n", r.errors.size(),
                 r.errors.size() == 1 ? "" : "s", opt.config_path.c_str());
    return 1;
  }
  return supervisor::Run(opt, *r.config, ctl);
}
