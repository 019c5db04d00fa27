// BackendOutput: a backend's stdout and stderr files in the engine's state
// directory (`<state_dir>/target-<name>.stdout|stderr`, /dev/null without
// one), each followed into the engine's log by an OutputTail every 500 ms
// while a run goes on. Shared by static:cmd and static:exec. Runs on the
// engine's event loop (static plugin, proxygw-engine).
#pragma once

#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <string>

#include "plugins/static/output_tail.h"
#include "proxygw-engine/log.h"
#include "proxygw-engine/state_store.h"

namespace plugins::static_ns {

class BackendOutput {
 public:
  BackendOutput(boost::asio::io_context& io, engine::Logger log, const engine::StateStore& state,
                const std::string& target);
  ~BackendOutput();
  BackendOutput(const BackendOutput&) = delete;
  BackendOutput& operator=(const BackendOutput&) = delete;

  std::string stdout_path() const { return stdout_path_; }
  std::string stderr_path() const { return stderr_path_; }

  // A new run: follow both files from their current ends, every 500 ms
  // while `running()` says so.
  void Follow(std::function<bool()> running);
  // The run is over: what is left is logged, a last partial line too.
  void Finish();
  // Stops following without reading (the engine exits).
  void Cancel();

  // The last line of this run's stderr, "" if none.
  const std::string& last_stderr_line() const { return err_.last_line(); }

 private:
  void TailSoon();

  engine::Logger log_;
  std::string stdout_path_, stderr_path_;
  OutputTail out_, err_;
  boost::asio::steady_timer timer_;
  std::function<bool()> running_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
};

}  // namespace plugins::static_ns
