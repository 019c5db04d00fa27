// valheim:status (see the header). A2S_INFO, A2S_PLAYER and A2S_RULES are
// answered only to a client that sent back the challenge number of its
// address (as Steam's servers do since 2020), so a spoofed address gets
// 9 bytes for 25; anything else is ignored (DEBUG).
#include "plugins/valheim/status_frontend.h"

#include <algorithm>

#include "plugins/valheim/a2s.h"
#include "plugins/valheim/challenge.h"
#include "plugins/valheim/udp_frontend.h"
#include "plugins/valheim/valheim_options.h"

namespace plugins::valheim {
namespace {

using Clock = std::chrono::steady_clock;

class StatusResponder {
 public:
  StatusResponder(std::string info, const StatusLimits& limits, const engine::Logger& log)
      : info_(std::move(info)), limits_(limits), log_(log) {}

  void OnDatagram(net::UdpSocket& socket, std::string_view d, bool truncated,
                  const boost::asio::ip::udp::endpoint& from) {
    auto q = truncated ? std::nullopt : ParseQuery(d);
    if (!q) {
      if (log_.DebugEnabled()) {
        log_.Debug("not a query; ignored",
                   {{"client", net::EndpointText(from)}, {"bytes", std::to_string(d.size())}});
      }
      return;
    }
    const auto now = Clock::now();
    const std::string address = net::AddressBytes(from);
    std::string answer;
    switch (q->kind) {
      case QueryKind::kInfo:
      case QueryKind::kPlayer:
      case QueryKind::kRules:
        if (!q->challenge || !challenges_.Valid(address, *q->challenge, now)) {
          answer = BuildChallenge(challenges_.For(address, now));
        } else if (q->kind == QueryKind::kInfo) {
          answer = info_;
        } else if (q->kind == QueryKind::kPlayer) {
          answer = BuildNoPlayers();
        } else {
          answer = BuildNoRules();
        }
        break;
      case QueryKind::kGetChallenge:
        answer = BuildChallenge(challenges_.For(address, now));
        break;
      case QueryKind::kPing:
        answer = BuildPingReply();
        break;
    }
    if (!TakeToken(now)) {
      log_.Debug("too many queries; one left unanswered", {{"client", net::EndpointText(from)}});
      return;
    }
    socket.SendTo(answer, from);
  }

 private:
  bool TakeToken(Clock::time_point now) {
    const double rate = limits_.replies_per_second;
    if (last_ != Clock::time_point{}) {
      tokens_ = std::min(rate, tokens_ + rate * std::chrono::duration<double>(now - last_).count());
    } else {
      tokens_ = rate;
    }
    last_ = now;
    if (tokens_ < 1) return false;
    tokens_ -= 1;
    return true;
  }

  std::string info_;
  StatusLimits limits_;
  engine::Logger log_;
  ChallengeIssuer challenges_;
  double tokens_ = 0;
  Clock::time_point last_{};
};

}  // namespace

std::unique_ptr<engine::FrontendHandler> NewStatusFrontend(const engine::FrontendContext& ctx,
                                                           config::ErrorSink& errors,
                                                           const StatusLimits& limits) {
  auto options = ReadStatusOptions(ctx.config, errors);
  if (!options) return nullptr;
  auto responder = std::make_shared<StatusResponder>(
      BuildInfo(ValheimInfo(*options, ctx.config.listen.port)), limits, ctx.log);
  return NewUdpFrontend(ctx, "Valheim queries",
                        [responder](net::UdpSocket& s, std::string_view d, bool truncated,
                                    const boost::asio::ip::udp::endpoint& from) {
                          responder->OnDatagram(s, d, truncated, from);
                        });
}

}  // namespace plugins::valheim
