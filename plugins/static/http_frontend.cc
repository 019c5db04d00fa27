// static:http, the "starting" page of a cold target: proxygw-engine runs a
// small HTTP/1.1 server (Boost.Beast) on the frontend's listen address, on the
// engine's one event loop. Every request whose path matches the `endpoint`
// option gets the `content` page and asks for the target to be warmed; once
// the target is active, the kernel steers new connections to the backend and
// this server only sees what the DNAT rules leave it.
//
// Options (frontends[i].options), every key checked, errors located:
//   content       required string, the response body (may be empty)
//   endpoint      path the page answers, default "/". Matched as Go's
//                 ServeMux (the original's): "/" matches every path, a path
//                 ending in "/" its subtree, any other path only itself. The
//                 request path is percent-decoded before matching, as Go does;
//                 it is not cleaned ("/a/../b" is not "/b") and "/tree" is not
//                 redirected to "/tree/": both get 404.
//   content_type  default "text/plain; charset=utf-8"
//   status        HTTP status of the page, default 200 (the original's); 200 to
//                 599 except 204, 205 and 304, which cannot carry the content.
// The frontend's protocol must be tcp.
//
// Serving: plugins/net/http_server.h (one request per connection, bounded by
// HttpLimits; HEAD gets the headers alone). Any method gets the full page; a
// path that does not match gets 404 and does not warm. A request for the page
// is a knock (FrontendContext::knock, counted in the metrics) and a warm.
#include "plugins/static/http_frontend.h"

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>

#include "plugins/net/serving_frontend.h"

namespace plugins::static_ns {
namespace {

namespace asio = boost::asio;
namespace net = plugins::net;
using common::Status;

constexpr std::string_view kNeedsTcp = "static:http serves HTTP, which needs protocol tcp";

// What the options say the server answers.
struct Page {
  std::string content;
  std::string endpoint = "/";
  std::string content_type = "text/plain; charset=utf-8";
  unsigned status = 200;
};

// --- Options ----------------------------------------------------------------

bool HasControl(std::string_view s, bool allow_tab) {
  for (unsigned char c : s) {
    if ((c < 0x20 && !(allow_tab && c == '\t')) || c == 0x7f) return true;
  }
  return false;
}

void ReadEndpoint(config::ErrorSink& errors, const config::Fields& f, Page& page) {
  auto s = f.String(errors, "endpoint", /*required=*/false);
  if (!s) return;
  const config::Location at = config::LocationOf(f.Get("endpoint"));
  if ((*s)[0] != '/') {
    errors.Add(at, f.PathOf("endpoint"),
               "must be a path starting with \"/\", got \"" + s->substr(0, 64) + "\"");
    return;
  }
  // The endpoint is compared with the request's path alone, so a query or a
  // fragment in it could never match; spaces and controls cannot be in a path.
  if (HasControl(*s, /*allow_tab=*/false) || s->find_first_of(" ?#") != std::string::npos) {
    errors.Add(at, f.PathOf("endpoint"),
               "must be a URL path without spaces, control characters, \"?\" or \"#\"");
    return;
  }
  page.endpoint = *s;
}

void ReadContentType(config::ErrorSink& errors, const config::Fields& f, Page& page) {
  auto s = f.String(errors, "content_type", /*required=*/false);
  if (!s) return;
  // A line break would end the header and let the rest of the value be read
  // as headers of its own.
  if (HasControl(*s, /*allow_tab=*/true)) {
    errors.Add(config::LocationOf(f.Get("content_type")), f.PathOf("content_type"),
               "must not contain control characters such as line breaks");
    return;
  }
  page.content_type = *s;
}

void ReadStatus(config::ErrorSink& errors, const config::Fields& f, Page& page) {
  YAML::Node v = f.Get("status");
  if (!v.IsDefined()) return;
  std::optional<unsigned> code;
  if (config::ResolveScalar(v) == config::ScalarType::kInt) {
    const std::string& s = v.Scalar();
    if (s.size() == 3 && s.find_first_not_of("0123456789") == std::string::npos) {
      unsigned n = static_cast<unsigned>(std::stoul(s));
      // 1xx are not final answers; 204, 205 and 304 must not carry content.
      if (n >= 200 && n <= 599 && n != 204 && n != 205 && n != 304) code = n;
    }
  }
  if (!code) {
    errors.Add(v.IsNull() ? f.KeyLocation("status") : config::LocationOf(v), f.PathOf("status"),
               "expected an HTTP status from 200 to 599 other than 204, 205 and 304, got " +
                   config::DescribeNode(v));
    return;
  }
  page.status = *code;
}

// The page `f` asks for, or nullopt having reported every problem.
std::optional<Page> ReadOptions(const config::Frontend& f, config::ErrorSink& errors) {
  const std::size_t before = errors.count();
  if (f.protocol != config::Protocol::kTcp) errors.Add(f.location, f.path, std::string(kNeedsTcp));
  // The loader leaves a null node when the frontend has no options.
  YAML::Node node = f.options.node.IsDefined() ? f.options.node : YAML::Node();
  auto fields = config::Fields::Read(errors, node, f.options.path, f.options.location,
                                     {"content", "endpoint", "content_type", "status"},
                                     /*null_is_empty=*/true);
  if (!fields) return std::nullopt;
  Page page;
  if (auto s = fields->String(errors, "content", /*required=*/true, /*allow_empty=*/true)) {
    page.content = std::move(*s);
  }
  ReadEndpoint(errors, *fields, page);
  ReadContentType(errors, *fields, page);
  ReadStatus(errors, *fields, page);
  if (errors.count() != before) return std::nullopt;
  return page;
}

// --- Requests ---------------------------------------------------------------

// Go's ServeMux rule for a pattern without a host.
bool PathMatches(std::string_view endpoint, std::string_view path) {
  if (endpoint.back() == '/') return path.substr(0, endpoint.size()) == endpoint;
  return path == endpoint;
}

// The page for a matching path (a knock, and a warm), 404 for any other.
net::HttpAnswer Answer(const Page& page, const net::HttpRequest& req,
                       const std::function<void()>& knock) {
  net::HttpAnswer a;
  auto path = net::TargetPath(req.target);
  if (!path || !PathMatches(page.endpoint, *path)) {
    a.status = 404;
    a.body = "404 page not found\n";
    a.headers = {{"X-Content-Type-Options", "nosniff"}};
    return a;
  }
  knock();
  a.status = page.status;
  a.content_type = page.content_type;
  a.body = page.content;
  return a;
}

// --- The handler ------------------------------------------------------------

class HttpFrontend final : public net::ServingFrontend<net::HttpServer> {
 public:
  HttpFrontend(const engine::FrontendContext& ctx, Page page, const HttpLimits& limits)
      : ServingFrontend(ctx, "HTTP"),
        page_(std::make_shared<const Page>(std::move(page))),
        limits_(limits),
        warm_(ctx.warm),
        knock_(ctx.knock) {}
  ~HttpFrontend() override { Close(); }

 private:
  common::Result<std::shared_ptr<net::HttpServer>> Open() override {
    // The knock counts the request, then warm asks for the target.
    auto knock = [knock = knock_, warm = warm_] {
      knock();
      warm();
    };
    return net::HttpServer::Open(
        io_, listen_, dual_stack_, limits_, log_,
        [page = page_, knock](const net::HttpRequest& req) { return Answer(*page, req, knock); });
  }

  std::shared_ptr<const Page> page_;
  HttpLimits limits_;
  std::function<void()> warm_;
  std::function<void()> knock_;
};

}  // namespace

std::unique_ptr<engine::FrontendHandler> NewHttpFrontendWithLimits(
    const engine::FrontendContext& ctx, config::ErrorSink& errors, const HttpLimits& limits) {
  auto page = ReadOptions(ctx.config, errors);
  if (!page) return nullptr;
  return std::make_unique<HttpFrontend>(ctx, std::move(*page), limits);
}

std::unique_ptr<engine::FrontendHandler> NewHttpFrontend(const engine::FrontendContext& ctx,
                                                         config::ErrorSink& errors) {
  return NewHttpFrontendWithLimits(ctx, errors, HttpLimits{});
}

}  // namespace plugins::static_ns
