#include "ops/review_ops.h"

#include "core/report_token.h"
#include "ops/admin_input.h"
#include "ops/op_input.h"
#include "store/report_store.h"

namespace policyd::ops {
namespace {

constexpr uint64_t kDefaultReviews = 100;
constexpr uint64_t kMaxReviews = 10000;  // review.lua keeps at most 10,000 requests

}  // namespace

Result<AdminCall> ListReviews(const Config& config, const nlohmann::json& input) {
  if (Status s = CheckFields(input, {"limit"}); !s.ok()) return s.error();
  Result<std::optional<std::string>> text = StringField(input, "limit", false);
  if (!text.ok()) return text.error();
  uint64_t limit = kDefaultReviews;
  if (text->has_value()) {
    Result<uint64_t> n = admin::CheckCount("limit", **text, kMaxReviews);
    if (!n.ok()) return FieldError("limit", n.error().message);
    limit = *n;
  }
  // ReportStore lists one Redis's queue, or every slot's queue of a cluster, merged.
  AdminCall call;
  call.run = [config = std::make_shared<const Config>(config), limit](
                 AdminBackend backend, uint64_t, AdminDone done) {
    backend.reports().ListReviews(
        *config, limit, [config, done = std::move(done)](Result<std::vector<Report>> reports) {
          if (!reports.ok()) return done(reports.error());
          done(ReviewsJson(*reports, config->report.base_url, config->report.secret));
        });
  };
  return call;
}

nlohmann::json ReviewsJson(const std::vector<Report>& reports, const std::string& base_url,
                           const std::string& secret) {
  nlohmann::json reviews = nlohmann::json::array();
  for (const Report& report : reports) {
    auto field = [&](const char* name) {
      auto it = report.fields.find(name);
      return it == report.fields.end() ? std::string() : it->second;
    };
    reviews.push_back({{"id", report.id},
                       {"requested", field("review_at")},
                       {"kind", field("kind")},
                       {"subject", field("subject")},
                       {"reason", field("reason")},
                       {"text", field("review_text")},
                       {"url", ReportUrl(base_url, secret, report.id)}});
  }
  return nlohmann::json{{"reviews", reviews}};
}

Result<AdminCall> ResolveReview(const Config& config, const nlohmann::json& input,
                                const std::string& source) {
  if (Status s = CheckFields(input, {"id", "note"}); !s.ok()) return s.error();
  Result<std::optional<std::string>> id_text = StringField(input, "id", true);
  if (!id_text.ok()) return id_text.error();
  Result<std::string> id = admin::CheckReportId(**id_text);
  if (!id.ok()) return FieldError("id", id.error().message);
  Result<std::optional<std::string>> note_text = StringField(input, "note", true);
  if (!note_text.ok()) return note_text.error();
  if ((*note_text)->empty()) return FieldError("note", "required: what the customer reads");
  Result<std::string> note = admin::CheckEvidence(**note_text);
  if (!note.ok()) return FieldError("note", note.error().message);
  // ReportStore runs review_resolve.lua in the report's slot with its queue's slot-tag.
  AdminCall call;
  call.run = [config = std::make_shared<const Config>(config), id = *id, note = *note, source](
                 AdminBackend backend, uint64_t, AdminDone done) {
    backend.reports().ResolveReview(
        *config, id, note, source, [id, note, done = std::move(done)](Result<RedisValue> reply) {
          if (!reply.ok()) return done(reply.error());
          done(ScriptOutcome(*reply, [&](const RedisValue& r) -> Result<nlohmann::json> {
            return nlohmann::json{{"id", id},
                                  {"review", "resolved"},
                                  {"note", note},
                                  {"resolved_at",
                                   r.elements.size() > 1 ? r.elements[1].AsString() : ""}};
          }));
        });
  };
  return call;
}

Result<AdminCall> ResolveReviewApi(const Config& config, const nlohmann::json& input) {
  return ResolveReview(config, input, "api");
}

}  // namespace policyd::ops
