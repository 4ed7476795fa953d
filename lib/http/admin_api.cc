// The HTTP admin API (/api/v1/admin/, issue 19): the HTTP front end of lib/ops's operations.
// Order of checks, each answered as JSON {"error": {...}}: the API is off (no [http]
// admin_tokens: the same 404 page as an unknown path) -> token (401) -> route (404 or 405)
// -> scope (403) -> body (413, 400) -> the operation's input (400) -> Redis (404, 409, 503),
// one Redis or a Redis Cluster alike (ops/admin_backend.h).
// Nothing reaches Redis before every check passed, so a refused request writes nothing.
#include <nlohmann/json.hpp>

#include "core/report_page.h"
#include "core/url_query.h"
#include "http/http_server.h"
#include "log/log.h"
#include "ops/admin_routes.h"
#include "ops/op_input.h"

namespace policyd {
namespace {

// Names are any bytes (an SMTP user's may be invalid UTF-8): never throw on them.
std::string Dump(const nlohmann::json& j) {
  return j.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
}

HttpResponse ErrorResponse(const Error& error) {
  return JsonResponse(ops::HttpStatusOf(error.code), Dump(ops::ErrorJson(error)));
}

HttpResponse PlainError(int status, std::string_view code, std::string_view message) {
  nlohmann::json j = {{"error", {{"code", code}, {"message", message}}}};
  return JsonResponse(status, Dump(j));
}

}  // namespace

void HttpServer::ServeAdmin(const HttpRequest& request, Reply reply) {
  const Config& cfg = config();
  if (cfg.http.admin_tokens.empty()) return reply(HtmlResponse(404, RenderNotFoundPage()));
  AdminScope scope = AdminScopeOf(request.Header("authorization"), cfg.http.admin_tokens);
  if (scope == AdminScope::kNone) {
    HttpResponse r = PlainError(401, "unauthorized", "missing or wrong bearer token");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return reply(std::move(r));
  }
  ops::AdminRouteMatch match = ops::MatchAdminRoute(request.method, request.path);
  if (!match.route) {
    if (match.path_known) return reply(PlainError(405, "method_not_allowed", "method not allowed"));
    return reply(PlainError(404, "no_route", "no such admin API path"));
  }
  if (match.route->scope == AdminScope::kWrite && scope != AdminScope::kWrite) {
    return reply(PlainError(403, "forbidden", "this route needs a write token"));
  }
  if (!match.route->op) {  // GET /api/v1/admin/routes
    return reply(JsonResponse(200, Dump({{"routes", ops::AdminRoutesJson()}})));
  }
  nlohmann::json input = nlohmann::json::object();
  if (request.method == "GET") {
    // A GET's input is its query string (paging: ?cursor=...&count=...), values as strings.
    for (const auto& [name, value] : ParseFormEncoded(request.query)) input[name] = value;
  } else {
    Result<nlohmann::json> body = ops::ParseInputBody(request.body, ops::kMaxAdminBodyBytes);
    if (!body.ok()) return reply(ErrorResponse(body.error()));
    input = std::move(*body);
  }
  for (auto& [name, value] : match.params.items()) input[name] = value;
  Result<ops::AdminCall> call = match.route->op(cfg, input);
  if (!call.ok()) return reply(ErrorResponse(call.error()));
  std::string route(match.route->path);
  std::string method = request.method;
  bool write = match.route->scope == AdminScope::kWrite;
  ops::RunAdminCall(ops::AdminBackend(reports_), std::move(*call),
                    cfg.server.request_timeout_ms,
                    [reply, route, method, write](Result<nlohmann::json> r) {
                      if (!r.ok()) return reply(ErrorResponse(r.error()));
                      if (write) {
                        POLICYD_LOG_INFO("event=admin_write method={} route={}", method, route);
                      }
                      reply(JsonResponse(200, Dump(*r)));
                    });
}

}  // namespace policyd
