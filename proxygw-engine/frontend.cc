#include "proxygw-engine/frontend.h"

namespace engine {

using common::Status;

const char* FrontendStateName(FrontendState s) {
  switch (s) {
    case FrontendState::kStopped: return "stopped";
    case FrontendState::kStarting: return "starting";
    case FrontendState::kRunning: return "running";
    case FrontendState::kStopping: return "stopping";
    case FrontendState::kClosed: return "closed";
  }
  return "invalid";
}

struct Frontend::Impl : std::enable_shared_from_this<Impl> {
  const config::Frontend& cfg;
  Logger log;
  std::unique_ptr<FrontendHandler> handler;
  FrontendState state = FrontendState::kStopped;
  std::string last_error;
  bool busy = false;          // a Start or Stop of the handler is in flight
  bool close_pending = false;  // Close waits for it
  std::function<void()> closed;  // Close's, until the handler is closed

  void Finished() {
    busy = false;
    if (close_pending) {
      close_pending = false;
      handler->Close();
      if (auto c = std::move(closed)) c();
    }
  }

  Impl(const config::Frontend& c, Logger l) : cfg(c), log(std::move(l)) {}

  void Enter(FrontendState s) {
    if (state == s) return;
    state = s;
    log.Info("frontend state", {{"state", FrontendStateName(s)}});
  }
};

Frontend::Frontend(const config::Frontend& cfg, Logger log)
    : impl_(std::make_shared<Impl>(cfg, std::move(log))) {}
Frontend::~Frontend() = default;

void Frontend::SetHandler(std::unique_ptr<FrontendHandler> handler) {
  impl_->handler = std::move(handler);
}
FrontendHandler* Frontend::handler() const { return impl_->handler.get(); }
const config::Frontend& Frontend::config() const { return impl_->cfg; }
FrontendState Frontend::state() const { return impl_->state; }
const std::string& Frontend::last_error() const { return impl_->last_error; }

Status Frontend::Start(Done done) {
  Impl& s = *impl_;
  auto finish = [done](Status st) {
    if (done) done(std::move(st));
  };
  if (s.state == FrontendState::kClosed || s.state == FrontendState::kStopping) {
    return Status::Unavailable("frontend " + s.cfg.name + " is " + FrontendStateName(s.state));
  }
  if (s.state != FrontendState::kStopped) {
    finish(Status::Ok());
    return Status::Ok();
  }
  s.last_error.clear();
  s.Enter(FrontendState::kStarting);
  s.busy = true;
  s.handler->Start([w = impl_->weak_from_this(), finish](Status st) {
    auto s = w.lock();
    if (!s) return;
    s->Finished();
    if (s->state != FrontendState::kStarting) return;
    if (!st.ok()) {
      s->last_error = "start failed: " + st.message();
      s->log.Error("frontend did not start", {{"error", st.message()}});
      s->Enter(FrontendState::kStopped);
    } else {
      s->Enter(FrontendState::kRunning);
    }
    finish(st);
  });
  return Status::Ok();
}

Status Frontend::Stop(Done done) {
  Impl& s = *impl_;
  auto finish = [done](Status st) {
    if (done) done(std::move(st));
  };
  if (s.state == FrontendState::kClosed || s.state == FrontendState::kStarting) {
    return Status::Unavailable("frontend " + s.cfg.name + " is " + FrontendStateName(s.state));
  }
  if (s.state != FrontendState::kRunning) {
    finish(Status::Ok());
    return Status::Ok();
  }
  s.last_error.clear();
  s.Enter(FrontendState::kStopping);
  s.busy = true;
  s.handler->Stop([w = impl_->weak_from_this(), finish](Status st) {
    auto s = w.lock();
    if (!s) return;
    s->Finished();
    if (s->state != FrontendState::kStopping) return;
    if (!st.ok()) {
      s->last_error = "stop failed: " + st.message();
      s->log.Error("frontend did not stop", {{"error", st.message()}});
      s->Enter(FrontendState::kRunning);
    } else {
      s->Enter(FrontendState::kStopped);
    }
    finish(st);
  });
  return Status::Ok();
}

void Frontend::Close(std::function<void()> closed) {
  Impl& s = *impl_;
  if (s.state == FrontendState::kClosed) {
    if (closed && s.close_pending) {
      s.closed = std::move(closed);
    } else if (closed) {
      closed();
    }
    return;
  }
  s.Enter(FrontendState::kClosed);
  if (s.handler && s.busy) {
    s.close_pending = true;  // closed once the Start or Stop in flight returns
    s.closed = std::move(closed);
    return;
  }
  if (s.handler) s.handler->Close();
  if (closed) closed();
}

}  // namespace engine
