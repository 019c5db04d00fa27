// The proxygw supervisor: for hosts without systemd (and `make run`). Started
// as root with a config, it prepares what the two processes need
// (runtime_paths.h: the engine's state directory, the netd and ctl sockets,
// the log file; it never changes a directory it did not create), starts
// proxygw-netd (which drops itself to CAP_NET_ADMIN and its user) and
// proxygw-engine (as its user, with no capability, or CAP_NET_BIND_SERVICE
// only when a frontend listens below port 1024), and supervises them:
//   - start-up is all or nothing: netd must report ready before the engine
//     starts, and the engine ready before the supervisor says "running"; a
//     child that fails to start stops everything with one line and exit 1;
//   - a child that dies later is restarted with back-off (1s doubling to
//     30s); the kernel keeps forwarding meanwhile and the engine re-syncs;
//     the supervisor keeps the ctl socket meanwhile, so that clients queue;
//   - SIGTERM/SIGINT stop the engine first (it drains targets and tells netd
//     to remove its table), then netd, and remove the two sockets;
//   - netd gets its policy (what may be mapped, from the config, and each
//     listen key's mark) as a sealed memory file; SIGHUP re-reads the config
//     and, when it declares other mappings, restarts netd with the new policy
//     (the marks of the keys that stay kept) before forwarding SIGHUP to the
//     engine.
// After setting up, the supervisor keeps only the capabilities it needs to
// restart its children and signal them (docs/privileged-surface.md).
#pragma once

#include <optional>
#include <string>

#include "plugins/ctl/ctl_config.h"
#include "proxygw-engine/config/config.h"

namespace supervisor {

struct Options {
  std::string config_path;
  std::string netd_binary;
  std::string engine_binary;
};

// Runs until stopped; the process's exit code. `ctl`: plugins.ctl, read with
// the plugin's own reader, when the config has that section.
int Run(const Options& options, const config::Config& cfg,
        const std::optional<ctl_plugin::CtlConfig>& ctl);

}  // namespace supervisor
