// Frontend: one listen address's state machine, with the original's states
// and numbers (stopped 1, starting 2, running 3, stopping 4, closed 5), its
// start/stop bug fixed (B5): a failed start returns to stopped, a failed stop
// to running, each with the error recorded. Its handler's warm signals go to
// the target in any state, as in the original. Event loop only.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/status.h"
#include "proxygw-engine/config/config.h"
#include "proxygw-engine/log.h"
#include "proxygw-engine/plugin_api.h"

namespace engine {

enum class FrontendState : int { kStopped = 1, kStarting = 2, kRunning = 3, kStopping = 4, kClosed = 5 };
const char* FrontendStateName(FrontendState s);

class Frontend {
 public:
  Frontend(const config::Frontend& cfg, Logger log);
  ~Frontend();
  Frontend(const Frontend&) = delete;
  Frontend& operator=(const Frontend&) = delete;

  void SetHandler(std::unique_ptr<FrontendHandler> handler);
  FrontendHandler* handler() const;

  const config::Frontend& config() const;
  FrontendState state() const;
  const std::string& last_error() const;

  // Ok when accepted or nothing to do; Unavailable when stopping or closed.
  common::Status Start(Done done = nullptr);
  // Ok when accepted or nothing to do; Unavailable when starting or closed.
  common::Status Stop(Done done = nullptr);
  // Final: the state is closed at once; the handler is closed now, or when
  // a Start or Stop of it in flight returns (their results are then ignored).
  // `closed` runs once the handler is closed (perhaps before Close returns);
  // the frontend may be destroyed from then on.
  void Close(std::function<void()> closed = nullptr);

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace engine
