// proxygw-engine: the unprivileged daemon. This file reads the command line and
// runs one of its modes; `--check-config FILE` validates a config without
// touching the network.
#include <cstdio>
#include <string>

#include <CLI/CLI.hpp>

#include "proxygw-engine/config/loader.h"

namespace {

// Exit codes; docs/operations.md lists them.
enum ExitCode : int {
  kExitOk = 0,
  kExitConfig = 1,  // the config is invalid or unreadable
  kExitUsage = 2,   // bad command line
};

int CheckConfig(const std::string& path) {
  config::LoadResult r = config::LoadConfigFile(path);
  if (!r.ok()) {
    std::fputs(r.ErrorText().c_str(), stderr);
    std::fprintf(stderr, "proxygw-engine: %zu error%s in %s\n", r.errors.size(),
                 r.errors.size() == 1 ? "" : "s", path.c_str());
    return kExitConfig;
  }
  std::puts("ok");
  return kExitOk;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"proxygw-engine: the unprivileged proxygw daemon"};
  std::string check_path;
  app.add_option("--check-config", check_path,
                 "Validate FILE, print \"ok\" or every error with its line and column, and exit "
                 "0 (valid) or 1 (invalid) without touching the network")
      ->type_name("FILE");
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (!check_path.empty()) return CheckConfig(check_path);
  std::fputs("proxygw-engine: the daemon mode is not built yet; use --check-config FILE\n", stderr);
  return kExitUsage;
}
