// proxygw-engine: the unprivileged daemon. main() reads the command line and
// runs one of two modes, each a list of steps with its own failure message:
//   --check-config FILE: load the config and check every plugin's options,
//     print "ok" or every error, touch nothing.
//   --write-netd-policy PATH: load and check the config, write netd's policy
//     (what may be mapped) to PATH; run as root by the netd unit's
//     ExecStartPre=+ step, never by the running engine.
//   --write-polkit-rule PATH: load and check the config, write the polkit
//     rule that lets the engine's user start and stop the units of its
//     systemd:unit targets; run as root by the engine unit's ExecStartPre=+
//     and ExecReload=+ steps.
//   --config FILE: load and check the config, set up logging, build the
//     engine (plugins, targets, frontends), connect to proxygw-netd, serve
//     until SIGTERM or SIGINT, then shut down in order: drain every target
//     (backends stop) and remove netd's table; or, when systemd is restarting
//     the engine's unit, keep targets, backends and forwarding for the next
//     engine. A second signal forces a quick exit. SIGHUP reloads the config
//     (Engine::Reload: applied as a difference, or refused and logged) and
//     reopens the log file either way.
#include <malloc.h>
#include <unistd.h>

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <string>

#include <CLI/CLI.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/signal_set.hpp>
#include <boost/asio/steady_timer.hpp>
#include <systemd/sd-daemon.h>

#include "proxygw-engine/config/default_path.h"
#include "proxygw-engine/config/loader.h"
#include "proxygw-engine/config/netd_policy.h"
#include "proxygw-engine/config/polkit_rule.h"
#include "proxygw-engine/engine.h"
#include "proxygw-engine/log.h"
#include "proxygw-engine/netd_dataplane.h"
#include "proxygw-engine/plugin_registry.h"
#include "proxygw-engine/systemd_unit.h"

namespace {

// Exit codes; the README's operations section lists them.
enum ExitCode : int {
  kExitOk = 0,
  kExitConfig = 1,   // the config is invalid or unreadable
  kExitUsage = 2,    // bad command line
  kExitStart = 3,    // start-up failed (log output, state directory, a plugin's socket...)
  kExitForced = 4,   // a second signal cut the shutdown short
};

// The config as loaded and checked by every plugin; errors printed.
std::optional<config::Config> LoadChecked(const std::string& path) {
  config::LoadResult r = engine::LoadAndCheck(path);
  if (!r.errors.empty()) {
    std::fputs(r.ErrorText().c_str(), stderr);
    std::fprintf(stderr, "proxygw-engine: %zu error%s in %s\n", r.errors.size(),
                 r.errors.size() == 1 ? "" : "s", path.c_str());
    return std::nullopt;
  }
  return std::move(r.config);
}

int CheckConfig(const std::string& path) {
  if (!LoadChecked(path)) return kExitConfig;
  std::puts("ok");
  return kExitOk;
}

// --write-netd-policy, --write-polkit-rule: a root-side file from the config.
int WriteRootFile(const std::string& config_path,
                  const std::function<common::Status(const config::Config&)>& write) {
  auto cfg = LoadChecked(config_path);
  if (!cfg) return kExitConfig;
  if (common::Status st = write(*cfg); !st.ok()) {
    std::fprintf(stderr, "proxygw-engine: %s\n", st.message().c_str());
    return kExitStart;
  }
  return kExitOk;
}

// A stop drains; only a restart of the engine's own systemd unit
// (`systemctl restart proxygw`) keeps backends and forwarding for the next
// engine. Anything that cannot be told apart is a stop.
engine::Engine::ShutdownMode ModeFor(int sig, const engine::Logger& log) {
  if (sig != SIGTERM) return engine::Engine::ShutdownMode::kDrain;
  common::Result<engine::PendingJob> job = engine::PendingJobOfOwnUnit();
  if (!job.ok()) {
    if (!job.status().IsNotFound()) {
      log.Warn("cannot tell a restart from a stop; stopping (draining every target)",
               {{"reason", job.status().message()}});
    }
    return engine::Engine::ShutdownMode::kDrain;
  }
  if (*job != engine::PendingJob::kRestart) return engine::Engine::ShutdownMode::kDrain;
  log.Info("systemd is restarting the unit: backends and forwarding are kept for the next engine");
  return engine::Engine::ShutdownMode::kKeep;
}

// A drain takes as long as the targets' stop_timeouts allow: tell systemd
// (whose TimeoutStopSec= is shorter than the longest allowed stop_timeout),
// and give up past that budget rather than hang.
void HoldToBudget(const config::Config& cfg, boost::asio::steady_timer& deadline,
                  const engine::Logger& log) {
  const std::chrono::seconds budget = cfg.ShutdownBudget();
  sd_notifyf(0, "EXTEND_TIMEOUT_USEC=%llu",
             static_cast<unsigned long long>(
                 std::chrono::microseconds(budget + std::chrono::seconds(10)).count()));
  deadline.expires_after(budget);
  deadline.async_wait([&log, budget](const boost::system::error_code& ec) {
    if (ec) return;
    log.Error("shutdown did not finish within its budget (the longest stop_timeout + 30s); "
              "exiting now",
              {{"budget", std::to_string(budget.count()) + "s"}});
    std::_Exit(kExitForced);
  });
}

int Run(const std::string& path) {
  auto loaded = LoadChecked(path);
  if (!loaded) return kExitConfig;
  auto cfg = std::make_shared<const config::Config>(std::move(*loaded));
  // The parsed file's nodes are free now (DetachOptions): give their pages
  // back (glibc keeps freed heap memory otherwise).
  malloc_trim(0);
  if (common::Status st = engine::SetUpLogging(cfg->log.output, cfg->log.level); !st.ok()) {
    // The unit's file system is read-only but for its own directories.
    const char* hint = std::getenv("INVOCATION_ID") != nullptr && cfg->log.output.front() == '/'
                           ? " (under systemd the engine writes files only in /var/log/proxygw/: "
                             "e.g. log.output: /var/log/proxygw/proxygw.log)"
                           : "";
    std::fprintf(stderr, "proxygw-engine: %s%s\n", st.message().c_str(), hint);
    return kExitStart;
  }
  engine::Logger log;
  log.Info("starting", {{"config", path}, {"pid", std::to_string(getpid())}});
  if (geteuid() == 0) {
    log.Warn("running as root; the engine needs no privilege (use the proxygw supervisor or "
             "the systemd units to run it as its own user)");
  }

  boost::asio::io_context io;
  engine::NetdDataplane dataplane(io, cfg->netd.socket, log.With({{"component", "netd"}}));
  engine::Engine eng(io, cfg, dataplane);

  int exit_code = kExitOk;
  bool stopping = false;
  boost::asio::signal_set signals(io, SIGTERM, SIGINT, SIGHUP);
  boost::asio::steady_timer shutdown_deadline(io);
  std::function<void()> wait_signal;
  wait_signal = [&] {
    signals.async_wait([&](const boost::system::error_code& ec, int sig) {
      if (ec) return;
      if (sig == SIGHUP) {
        // Logged by the engine, applied or refused: nobody waits for an answer.
        log.Info("SIGHUP: reloading the config and reopening the log output");
        (void)eng.Reload();
        return wait_signal();
      }
      if (stopping) {
        log.Warn("second signal: exiting now, without finishing the shutdown");
        std::_Exit(kExitForced);
      }
      stopping = true;
      log.Info("signal received, shutting down (send it again to exit at once)",
               {{"signal", strsignal(sig)}});
      sd_notify(0, "STOPPING=1");
      engine::Engine::ShutdownMode mode = ModeFor(sig, log);
      if (mode == engine::Engine::ShutdownMode::kDrain) {
        HoldToBudget(*eng.config(), shutdown_deadline, log);  // the reloaded config's budget
      }
      eng.Shutdown(mode, [&, mode] {
        if (mode == engine::Engine::ShutdownMode::kKeep) {
          dataplane.Stop();  // netd keeps the table and waits for the next engine
          return io.stop();
        }
        dataplane.Shutdown(/*remove_table=*/true, [&](common::Status st) {
          if (!st.ok()) log.Info("netd not told to remove its table", {{"reason", st.message()}});
          io.stop();
        });
      });
      wait_signal();
    });
  };
  wait_signal();

  common::Status st = eng.Start([&] { dataplane.Start(); },
                                [&] {
                                  log.Info("serving");
                                  sd_notify(0, "READY=1");
                                });
  if (!st.ok()) {
    log.Error("start-up failed", {{"error", st.message()}});
    return st.IsInvalidArgument() ? kExitConfig : kExitStart;
  }
  io.run();
  return exit_code;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "proxygw-engine: the unprivileged proxygw daemon (targets, frontends, plugins, ctl).\n"
      "Exit codes: 0 clean shutdown, 1 invalid config, 2 bad command line, 3 start-up failed,\n"
      "4 forced exit by a second signal."};
  std::string check_path, config_path, policy_path, polkit_path;
  auto* check = app.add_option("--check-config", check_path,
                               "Validate FILE (the config and every plugin's options), print "
                               "\"ok\" or every error with its line and column, and exit 0 "
                               "(valid) or 1 (invalid), without touching the network")
                    ->type_name("FILE");
  app.add_option("--config", config_path,
                 std::string("Run with the config FILE (default ") + config::kDefaultConfigPath +
                     ", or " + config::kOriginalConfigPath + " when only that one exists)")
      ->type_name("FILE")
      ->excludes(check);
  app.add_option("--write-netd-policy", policy_path,
                 "Write proxygw-netd's policy (every mapping the config declares) to PATH and "
                 "exit: the root side's step before netd starts (docs/privileged-surface.md)")
      ->type_name("PATH")
      ->excludes(check);
  app.add_option("--write-polkit-rule", polkit_path,
                 "Write the polkit rule that lets the engine's user (engine.user) start and stop "
                 "the units of the config's systemd:unit targets, and no other, to PATH and exit: "
                 "the root side's step before the engine starts")
      ->type_name("PATH")
      ->excludes(check);
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? kExitOk : kExitUsage;
  }
  if (!check_path.empty()) return CheckConfig(check_path);
  if (config_path.empty()) {
    config::DefaultConfig d = config::ResolveDefaultConfig();
    if (!d.notice.empty()) std::fprintf(stderr, "proxygw-engine: %s\n", d.notice.c_str());
    config_path = d.path;
  }
  if (!policy_path.empty()) {
    return WriteRootFile(config_path, [&](const config::Config& cfg) {
      return config::WriteNetdPolicy(cfg, policy_path);
    });
  }
  if (!polkit_path.empty()) {
    return WriteRootFile(config_path, [&](const config::Config& cfg) {
      return config::WritePolkitRule(cfg, cfg.engine.user, polkit_path);
    });
  }
  return Run(config_path);
}
