// The metrics endpoint: an HttpServer (plugins/net/http_server.h) that answers
// GET and HEAD of /metrics with the metrics page (metrics_page.h) built from
// `control` at each scrape; 405 (Allow: GET, HEAD) for other methods, 404 for
// other paths. Engine-side, on the event loop.
#pragma once

#include <memory>

#include "common/net_address.h"
#include "common/status.h"
#include "plugins/net/http_server.h"
#include "proxygw-engine/control.h"
#include "proxygw-engine/log.h"

namespace metrics_plugin {

// The answer to `req` (pure but for the process metrics; tests call it).
plugins::net::HttpAnswer AnswerScrape(const engine::Control& control,
                                      const plugins::net::HttpRequest& req);

// Opens the listener on `at` ("[::]" serves IPv4 clients too) and serves.
// `control` outlives the server. Error: "listen on <at>: <reason>".
common::Result<std::shared_ptr<plugins::net::HttpServer>> OpenMetricsServer(
    boost::asio::io_context& io, const engine::Control& control, const engine::Logger& log,
    const common::AddrPort& at, const plugins::net::HttpLimits& limits);

}  // namespace metrics_plugin
