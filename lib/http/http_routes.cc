// The HTTP routes. A wrong or missing auth, an unknown id and an unknown path all get the same
// 404 page: nothing tells a prober whether an id exists (DESIGN §4).
#include <algorithm>
#include <memory>

#include <nlohmann/json.hpp>

#include "core/page_template.h"
#include "core/report_guidance.h"
#include "core/report_page.h"
#include "core/report_token.h"
#include "core/signals.h"
#include "core/url_query.h"
#include "http/http_server.h"
#include "log/log.h"

namespace policyd {
namespace {

HttpResponse NotFound() { return HtmlResponse(404, RenderNotFoundPage()); }

// Reads the report (and, for an ACL report, the account's domains and the user's grants
// today) and answers with its page; page carries the notice and the text to show again.
void ReplyWithPage(ReportStore* reports, std::shared_ptr<const Config> config,
                   const std::string& id, const std::string& auth, ReportPageContext page,
                   int status, std::function<void(HttpResponse)> reply) {
  reports->Get(*config, id, [reports, config, auth, page, status, reply](
                                Result<std::optional<Report>> r) mutable {
    if (!r.ok()) return reply(TextResponse(503, "temporarily unavailable, try again\n"));
    if (!r->has_value()) return reply(NotFound());
    auto report = std::make_shared<Report>(std::move(**r));
    ReportPageContext context = PageContextFor(*config, *report);
    context.notice = page.notice;
    context.text = page.text;
    context.text_chars = page.text_chars;
    reports->GetAclToday(*config, *report, [report, auth, context, status, reply](
                                               Result<AclToday> today) mutable {
      if (!today.ok()) return reply(TextResponse(503, "temporarily unavailable, try again\n"));
      context.acl = std::move(*today);
      HttpResponse page = HtmlResponse(status, RenderReportPage(*report, auth, context));
      page.img_src = UrlOrigin(context.logo_url);  // the page may load the logo, nothing else
      reply(std::move(page));
    });
  });
}

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
  if (path == "/metrics" && request.method == "GET") return ServeMetrics(counted("metrics"));
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
  if (path == "/api/v1/rspamd") {
    if (request.method != "POST") return counted("rspamd")(TextResponse(405, "POST only\n"));
    return ServeRspamd(request, counted("rspamd"));
  }
  counted("other")(NotFound());
}

// The process's counters, then the accounts' rates read from Redis (account_rates.lua) on
// this loop's client. Redis not ready fails the read at once and a slow one at
// kAccountRatesTimeoutMs: the scrape is then served without the account gauges, never failed.
void HttpServer::ServeMetrics(Reply reply) {
  auto text = std::make_shared<std::string>(RenderPrometheus(all_metrics_(), gauges_()));
  uint64_t timeout = std::min(config().server.request_timeout_ms, kAccountRatesTimeoutMs);
  reports_->AccountRates(config(), timeout, [text, reply](
                                                Result<std::vector<AccountRateRow>> rows) {
    if (rows.ok()) {
      *text += RenderAccountRates(*rows);
    } else {
      POLICYD_LOG_DEBUG("event=metrics_account_rates_skipped {}",
                        LogField("error", rows.error().message));
    }
    reply(TextResponse(200, std::move(*text)));
  });
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
  ReplyWithPage(reports_, current_, id, auth, ReportPageContext(), 200, std::move(reply));
}

// The review form: one pending request per report; the customer's text is checked
// (CheckReviewText) and a refused text comes back in the form with a notice saying why.
void HttpServer::ServeReview(const HttpRequest& request, Reply reply) {
  auto form = ParseFormEncoded(request.body);
  auto query = ParseFormEncoded(request.query);
  std::string id = form.count("id") ? form["id"] : query["id"];
  std::string auth = form.count("auth") ? form["auth"] : query["auth"];
  if (!VerifyReportAuth(config().report.secret, id, auth)) return reply(NotFound());
  std::shared_ptr<const Config> config = current_;
  ReviewText text = CheckReviewText(form["text"]);
  if (!text.error.empty()) {
    ReportPageContext page;
    page.notice = text.error;
    page.text_chars = text.chars;
    // A too-long text comes back cut to the limit, so the customer can shorten it; a text
    // with forbidden characters does not come back at all.
    if (text.error == "too_long") page.text = Utf8Prefix(text.text, kMaxReviewTextChars);
    POLICYD_LOG_INFO("event=review_refused report={} {}", id, LogField("result", text.error));
    return ReplyWithPage(reports_, config, id, auth, std::move(page), 400, std::move(reply));
  }
  reports_->RequestReview(*config, id, text.text, [this, config, reply, id, auth](
                                                      Result<std::string> r) {
    if (!r.ok()) return reply(TextResponse(503, "temporarily unavailable, try again\n"));
    if (*r == "missing") return reply(NotFound());
    ReportPageContext page;
    page.notice = *r == "requested" ? "requested" : "already";
    POLICYD_LOG_INFO("event=review_requested report={} {}", id, LogField("result", *r));
    ReplyWithPage(reports_, config, id, auth, std::move(page), 200, reply);
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
        nlohmann::json rates = nlohmann::json::array();
        for (std::size_t i = 0; i < r->size() && i < signals->size(); ++i) {
          ++metrics_->signals_ingested[(*signals)[i].kind];
          CountRateOutcome((*r)[i], (*signals)[i].kind, metrics_);
          if (!(*r)[i].rate_text.empty() || (*r)[i].outcome == "duplicate") {
            rates.push_back({{"subject", (*signals)[i].subject},
                             {"outcome", (*r)[i].outcome},
                             {"rate", (*r)[i].rate_text}});
          }
          const std::string& reason = (*r)[i].block_reason;
          if (!reason.empty()) {
            ++metrics_->blocks_created[reason];
            blocked.push_back({{"subject", (*signals)[i].subject}, {"reason", reason}});
          }
        }
        reply(JsonResponse(200, nlohmann::json{{"accepted", signals->size()},
                                               {"blocked", blocked},
                                               {"rates", rates}}
                                        .dump() +
                                    "\n"));
      });
}

}  // namespace policyd
