// valheim:server (see the header).
#include "plugins/valheim/server_frontend.h"

#include <chrono>

#include "plugins/valheim/udp_frontend.h"
#include "plugins/valheim/valheim_options.h"

namespace plugins::valheim {

bool IsConnectionSetup(std::string_view d) {
  if (d.size() < kMinSetupBytes) return false;
  const auto type = static_cast<unsigned char>(d[0]);
  return type == 32 || type == 34;
}

std::unique_ptr<engine::FrontendHandler> NewServerFrontend(const engine::FrontendContext& ctx,
                                                           config::ErrorSink& errors) {
  if (!ReadServerOptions(ctx.config, errors)) return nullptr;
  auto last_info = std::make_shared<std::chrono::steady_clock::time_point>();
  std::function<void()> warm = ctx.warm;
  engine::Logger log = ctx.log;
  return NewUdpFrontend(
      ctx, "the Valheim game port",
      [warm, log, last_info](net::UdpSocket&, std::string_view d, bool,
                             const boost::asio::ip::udp::endpoint& from) {
        if (!IsConnectionSetup(d)) {
          if (log.DebugEnabled()) {
            log.Debug("not a connection request; ignored",
                      {{"client", net::EndpointText(from)}, {"bytes", std::to_string(d.size())}});
          }
          return;
        }
        // A client repeats its request every few hundred milliseconds until
        // the server answers: one INFO line per 30 s is plenty.
        const auto now = std::chrono::steady_clock::now();
        if (now - *last_info > std::chrono::seconds(30)) {
          *last_info = now;
          log.Info("connection request wakes the target", {{"client", net::EndpointText(from)}});
        }
        if (warm) warm();
      });
}

}  // namespace plugins::valheim
