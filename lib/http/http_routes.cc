// The HTTP routes. A wrong or missing auth, an unknown id and an unknown path all get the same
// 404 page: nothing tells a prober whether an id exists (DESIGN §4).
#include <nlohmann/json.hpp>

#include "core/report_page.h"
#include "core/report_token.h"
#include "core/signals.h"
#include "core/url_query.h"
#include "http/http_server.h"
#include "log/log.h"

namespace policyd {
namespace {

HttpResponse NotFound() { return HtmlResponse(404, RenderNotFoundPage()); }

}  // namespace

void HttpServer::Route(const HttpRequest& request, Reply reply) {
  auto counted = [this, reply](std::string route) {
    return [this, reply, route](HttpResponse r) {
      CountRequest(route, r.status);
      reply(std::move(r));
    };
  };
  const std::string& path = request.path;
  if (path == "/healthz" && request.method == "GET") return ServeHealth(counted("healthz"));
  if (path == "/metrics" && request.method == "GET") {
    return counted("metrics")(TextResponse(200, RenderPrometheus(all_metrics_(), gauges_())));
  }
  if (path == "/report" || path == "/report/") {
    if (request.method == "GET") return ServeReport(request, counted("report"));
    if (request.method == "POST") return ServeReview(request, counted("review"));
    return counted("report")(TextResponse(405, "GET or POST\n"));
  }
  if (path.rfind("/api/v1/admin/", 0) == 0) return ServeAdmin(request, counted("admin"));
  if (path == "/api/v1/signals") {
    if (request.method != "POST") return counted("signals")(TextResponse(405, "POST only\n"));
    return ServeSignals(request, counted("signals"));
  }
  counted("other")(NotFound());
}

void HttpServer::ServeHealth(Reply reply) {
  reports_->Ping(config().server.request_timeout_ms, [reply](bool up) {
    reply(up ? TextResponse(200, "ok\n") : TextResponse(503, "redis unavailable\n"));
  });
}

void HttpServer::ServeReport(const HttpRequest& request, Reply reply) {
  auto query = ParseFormEncoded(request.query);
  const std::string& id = query["id"];
  std::string auth = query["auth"];
  if (!VerifyReportAuth(config().report.secret, id, auth)) return reply(NotFound());
  reports_->Get(config(), id, [reply, auth](Result<std::optional<Report>> r) {
    if (!r.ok()) return reply(TextResponse(503, "temporarily unavailable, try again\n"));
    if (!r->has_value()) return reply(NotFound());
    reply(HtmlResponse(200, RenderReportPage(**r, auth, "")));
  });
}

void HttpServer::ServeReview(const HttpRequest& request, Reply reply) {
  auto form = ParseFormEncoded(request.body);
  auto query = ParseFormEncoded(request.query);
  std::string id = form.count("id") ? form["id"] : query["id"];
  std::string auth = form.count("auth") ? form["auth"] : query["auth"];
  if (!VerifyReportAuth(config().report.secret, id, auth)) return reply(NotFound());
  std::shared_ptr<const Config> config = current_;
  reports_->RequestReview(*config, id, [this, config, reply, id, auth](Result<std::string> r) {
    if (!r.ok()) return reply(TextResponse(503, "temporarily unavailable, try again\n"));
    if (*r == "missing") return reply(NotFound());
    std::string notice = *r == "requested" ? "Review requested. Thank you."
                                           : "A review was already requested for this report.";
    POLICYD_LOG_INFO("event=review_requested report={} {}", id, LogField("result", *r));
    reports_->Get(*config, id, [reply, auth, notice](Result<std::optional<Report>> report) {
      if (!report.ok() || !report->has_value()) return reply(NotFound());
      reply(HtmlResponse(200, RenderReportPage(**report, auth, notice)));
    });
  });
}

void HttpServer::ServeSignals(const HttpRequest& request, Reply reply) {
  if (!BearerTokenMatches(request.Header("authorization"), config().http.api_token)) {
    HttpResponse r = JsonResponse(401, "{\"error\":\"missing or wrong bearer token\"}\n");
    r.headers.emplace_back("WWW-Authenticate", "Bearer");
    return reply(std::move(r));
  }
  Result<std::vector<Signal>> batch = ParseSignalBatch(request.body);
  if (!batch.ok()) {
    return reply(JsonResponse(
        400, nlohmann::json{{"error", batch.error().message}}.dump() + "\n"));
  }
  auto signals = std::make_shared<std::vector<Signal>>(std::move(*batch));
  reports_->IngestSignals(
      config(), *signals, "api",
      [this, signals, reply](Result<std::vector<SignalOutcome>> r) {
        if (!r.ok()) {
          return reply(JsonResponse(503, nlohmann::json{{"error", r.error().message}}.dump()));
        }
        nlohmann::json blocked = nlohmann::json::array();
        for (std::size_t i = 0; i < r->size() && i < signals->size(); ++i) {
          ++metrics_->signals_ingested[(*signals)[i].kind];
          const std::string& reason = (*r)[i].block_reason;
          if (!reason.empty()) {
            ++metrics_->blocks_created[reason];
            blocked.push_back({{"subject", (*signals)[i].subject}, {"reason", reason}});
          }
        }
        reply(JsonResponse(200, nlohmann::json{{"accepted", signals->size()},
                                               {"blocked", blocked}}
                                        .dump() +
                                    "\n"));
      });
}

}  // namespace policyd
