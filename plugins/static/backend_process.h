// BackendProcess: a static:cmd backend as the engine sees it, a process group.
// `/bin/sh -c <command>` starts in a session of its own (its own process
// group) with stdin on /dev/null, stdout and stderr on two files, no other
// descriptor and only the environment it is given. The backend is *gone*
// when the shell has exited AND no process of its group is left: a wrapper
// script's shell may die first while the server it started is still saving
// (Valheim's start_server.sh, `server | tee log`, `server; cleanup`).
//
// Stop: SIGTERM to the group, then the whole group gets `stop_timeout` to
// exit, then SIGKILL. When the shell exits on its own while the rest of its
// group runs on, the rest gets the same SIGTERM, grace and SIGKILL. Processes
// that left the group (setsid, a daemon's double fork) are found by the
// PROXYGW_RUN=<random id of this run> variable in their environment among
// the processes of the engine's user (not by PROXYGW_TARGET=<target>, which
// another engine's backend of the same name carries too), signalled with the
// group and reported in the log.
// A backend can also be frozen (SIGSTOP) and thawed (SIGCONT) as a whole.
//
// Runs on the engine's event loop (static plugin, proxygw-engine).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "common/status.h"
#include "proxygw-engine/log.h"

namespace boost::asio {
class io_context;
}

namespace plugins::static_ns {

class BackendProcess {
 public:
  // Called once the backend is gone. `how` tells how the shell ended ("exit
  // status 0", "killed by signal Terminated", "exited" for an adopted one);
  // `stopped` is true when Stop() asked for it.
  using OnGone = std::function<void(const std::string& how, bool stopped)>;

  BackendProcess(boost::asio::io_context& io, engine::Logger log, std::string target,
                 std::chrono::seconds stop_timeout, OnGone on_gone);
  ~BackendProcess();
  BackendProcess(const BackendProcess&) = delete;
  BackendProcess& operator=(const BackendProcess&) = delete;

  struct Spec {
    std::string command;
    std::vector<std::string> environment;  // "NAME=value"; PROXYGW_TARGET and _RUN are added
    std::string stdout_path;               // appended to (created 0600)
    std::string stderr_path;
  };
  // A command rather than a server (static:exec's `start`, `stop`, `check`):
  // it is done when the shell exits, and what it leaves running (a daemon,
  // in its group or not) is left alone. Stop() still stops the group.
  void RunToCompletion();

  // Starts the shell. Not while running().
  common::Status Start(const Spec& spec);

  // Takes over a backend a previous engine started: `pid` is the shell,
  // checked against `start_time` (pid reuse). False if it is not running.
  bool Adopt(pid_t pid, unsigned long long start_time);

  // Stops the backend (see above); on_gone(..., true) follows. Idempotent
  // while a stop is under way.
  void Stop();

  // Freezes the backend: SIGSTOP to its group (and to processes that left
  // it), so that it keeps its memory and resumes in milliseconds. Thaw
  // resumes it (SIGCONT). A stop of a frozen backend resumes it after its
  // SIGTERM, so that it can act on it.
  void Freeze();
  void Thaw();
  bool frozen() const;
  // An adopted backend that a previous engine froze.
  void MarkFrozen();

  // Forgets the backend without signalling it (the engine exits, keeping
  // it). on_gone is not called.
  void Release();

  bool running() const;
  pid_t pid() const;

  // Field 22 of /proc/<pid>/stat: start time in clock ticks since boot.
  static std::optional<unsigned long long> StartTime(pid_t pid);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace plugins::static_ns
