// POST /api/v1/rspamd: spam verdicts from Rspamd's metadata_exporter (json formatter, http
// backend with user/password = [feedback] rspamd_token; conf/rspamd/). An authenticated
// user's spam verdict becomes a `spam` signal with the score and symbols as evidence, through
// the same signal.lua call as the signals API. Everything else is accepted and ignored (200),
// so Rspamd does not retry it.
#include <nlohmann/json.hpp>

#include "core/rspamd_verdict.h"
#include "http/http_server.h"
#include "log/log.h"

namespace policyd {

void HttpServer::ServeRspamd(const HttpRequest& request, Reply reply) {
  if (!RspamdAuthMatches(request.Header("authorization"), config().feedback.rspamd_token)) {
    HttpResponse r = JsonResponse(401, "{\"error\":\"missing or wrong credentials\"}\n");
    r.headers.emplace_back("WWW-Authenticate", "Basic realm=\"policyd\"");
    return reply(std::move(r));
  }
  Result<RspamdVerdict> verdict = ParseRspamdVerdict(request.body);
  if (!verdict.ok()) {
    return reply(JsonResponse(
        400, nlohmann::json{{"error", verdict.error().message}}.dump() + "\n"));
  }
  std::string why;
  std::optional<Signal> signal = RspamdSignal(*verdict, &why);
  if (!signal) {
    return reply(JsonResponse(200, nlohmann::json{{"accepted", 0}, {"ignored", why}}.dump() +
                                       "\n"));
  }
  auto s = std::make_shared<Signal>(std::move(*signal));
  reports_->IngestSignals(
      config(), {*s}, "rspamd", [this, s, reply](Result<std::vector<SignalOutcome>> r) {
        if (!r.ok()) {
          return reply(JsonResponse(503, nlohmann::json{{"error", r.error().message}}.dump()));
        }
        ++metrics_->signals_ingested[s->kind];
        std::string reason = r->empty() ? "" : r->front().block_reason;
        if (!reason.empty()) ++metrics_->blocks_created[reason];
        reply(JsonResponse(200, nlohmann::json{{"accepted", 1},
                                               {"subject", s->subject},
                                               {"blocked", reason}}
                                        .dump() +
                                    "\n"));
      });
}

}  // namespace policyd
