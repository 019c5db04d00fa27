// ServingFrontend: what every frontend that serves its own socket while its
// target is cold shares (static:http, minecraft:server, valheim's UDP
// frontends). Start opens the server once (the kind's Open), synchronously;
// Stop shuts it down (Stop while stopped is ok); Close makes later calls do
// nothing. Done runs later on the loop, never inside Start or Stop, and not
// at all once Close ran. `Server` has Shutdown(). Engine's event loop.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <memory>
#include <string>

#include "common/status.h"
#include "proxygw-engine/plugin_api.h"

namespace plugins::net {

template <class Server>
class ServingFrontend : public engine::FrontendHandler {
 public:
  void Start(engine::Done done) final {
    if (closed_) return;
    if (!server_) {
      auto s = Open();
      if (!s.ok()) return Finish(std::move(done), s.status());
      server_ = std::move(*s);
      log_.Debug("serving " + what_, {{"listen", listen_.ToString()}});
    }
    Finish(std::move(done), common::Status::Ok());
  }

  void Stop(engine::Done done) final {
    if (closed_) return;
    StopServing();
    Finish(std::move(done), common::Status::Ok());
  }

  void Close() override {
    StopServing();
    closed_ = true;
    alive_.reset();
  }

 protected:
  // `what` names the service in the log ("serving HTTP").
  ServingFrontend(const engine::FrontendContext& ctx, std::string what)
      : io_(ctx.io),
        listen_(ctx.config.listen),
        dual_stack_(ctx.config.DualStack()),
        log_(ctx.log),
        what_(std::move(what)) {}

  // Opens the kind's server on listen_ (dual_stack_: both families).
  virtual common::Result<std::shared_ptr<Server>> Open() = 0;

  boost::asio::io_context& io_;
  const common::AddrPort listen_;
  const bool dual_stack_;
  engine::Logger log_;
  std::shared_ptr<Server> server_;  // set while serving

 private:
  void StopServing() {
    if (!server_) return;
    server_->Shutdown();
    server_.reset();
    log_.Debug("stopped serving " + what_, {{"listen", listen_.ToString()}});
  }

  void Finish(engine::Done done, common::Status status) {
    boost::asio::post(io_, [alive = std::weak_ptr<bool>(alive_), done = std::move(done),
                            status = std::move(status)] {
      if (alive.lock()) done(status);
    });
  }

  std::string what_;
  std::shared_ptr<bool> alive_ = std::make_shared<bool>(true);
  bool closed_ = false;
};

}  // namespace plugins::net
