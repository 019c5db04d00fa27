// The ctl plugin: the engine's control socket, which proxygwctl (and the
// original's clients) talk to. It reads plugins.ctl, opens the socket when
// the engine starts (not for --check-config), or adopts the one the proxygw
// supervisor bound and passed down, serves status, warm and drain on the
// engine's loop, and at unload removes the socket file if it created it.
// Without a plugins.ctl section there is no socket. It registers no frontend
// or target kinds.
#include <memory>

#include "plugins/ctl/ctl_config.h"
#include "plugins/ctl/ctl_server.h"
#include "plugins/ctl/inherited_socket.h"
#include "proxygw-engine/plugin_api.h"

namespace ctl_plugin {
namespace {

class CtlInstance : public engine::PluginInstance {
 public:
  explicit CtlInstance(std::unique_ptr<Server> server) : server_(std::move(server)) {}
  void Unload() override { server_->Close(); }

 private:
  std::unique_ptr<Server> server_;
};

void Load(engine::PluginContext& ctx, engine::Namespace& /*ns*/, config::ErrorSink& errors,
          bool start, std::unique_ptr<engine::PluginInstance>* instance) {
  if (ctx.options == nullptr) {
    // plugins may be {} (configs/README.md): no section, no control socket.
    // The original required one; proxygwctl then reports "not running".
    if (start) ctx.log.Info("no plugins." + ctx.ns + " section: the control socket is off");
    return;
  }
  std::optional<CtlConfig> cfg = ReadCtlConfig(*ctx.options, errors);
  if (!cfg || !start) return;
  auto inherited = TakeInheritedSocket(cfg->socket);
  if (!inherited.ok()) {
    ctx.log.Warn("ctl socket: not using the inherited one; binding the path here",
                 {{"error", inherited.status().message()}});
  }
  auto server = Server::Start(ctx.io, ctx.control, ctx.log, *cfg, {},
                              inherited.ok() ? std::move(inherited).value() : common::UniqueFd());
  if (!server.ok()) {
    errors.Add(cfg->socket_location, cfg->socket_path, server.status().message());
    return;
  }
  *instance = std::make_unique<CtlInstance>(std::move(server).value());
}

}  // namespace
}  // namespace ctl_plugin

extern const engine::PluginDef proxygw_plugin_ctl{"ctl", ctl_plugin::Load};
