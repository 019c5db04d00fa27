#include "plugins/metrics/metrics_server.h"

#include "plugins/metrics/metrics_page.h"

namespace metrics_plugin {

namespace http = boost::beast::http;
using plugins::net::HttpAnswer;
using plugins::net::HttpRequest;

HttpAnswer AnswerScrape(const engine::Control& control, const HttpRequest& req) {
  HttpAnswer a;
  auto path = plugins::net::TargetPath(req.target);
  if (!path || *path != "/metrics") {
    a.status = 404;
    a.body = "404 page not found; the metrics are at /metrics\n";
    return a;
  }
  if (req.method != http::verb::get && req.method != http::verb::head) {
    a.status = 405;
    a.body = "405 method not allowed\n";
    a.headers = {{"Allow", "GET, HEAD"}};
    return a;
  }
  a.content_type = kContentType;
  a.body = MetricsPage(control.Status(), control.metrics());
  return a;
}

common::Result<std::shared_ptr<plugins::net::HttpServer>> OpenMetricsServer(
    boost::asio::io_context& io, const engine::Control& control, const engine::Logger& log,
    const common::AddrPort& at, const plugins::net::HttpLimits& limits) {
  const bool dual_stack = at.address.is_v6() && at.address.IsUnspecified();
  return plugins::net::HttpServer::Open(
      io, at, dual_stack, limits, log,
      [&control](const HttpRequest& req) { return AnswerScrape(control, req); });
}

}  // namespace metrics_plugin
