// UdpFrontend: the FrontendHandler of a frontend that serves a UDP socket on
// its listen address while it runs (both valheim kinds). Start opens the
// socket, Stop and Close shut it; each datagram goes to the kind's
// function, which may answer through the socket. Runs on the engine's loop.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "plugins/net/udp_socket.h"
#include "proxygw-engine/plugin_api.h"

namespace plugins::valheim {

// What a kind does with one datagram; `socket` is the frontend's, for answers.
using DatagramFn = std::function<void(net::UdpSocket& socket, std::string_view datagram,
                                      bool truncated, const boost::asio::ip::udp::endpoint& from)>;

std::unique_ptr<engine::FrontendHandler> NewUdpFrontend(const engine::FrontendContext& ctx,
                                                        std::string what, DatagramFn on_datagram);

}  // namespace plugins::valheim
