#include "ops/review_ops.h"

#include <map>

#include "core/report_token.h"
#include "ops/admin_input.h"
#include "ops/op_input.h"

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
  AdminCall call;
  call.script = "review_list";
  call.argv = {config.redis.key_prefix, std::to_string(limit)};
  call.result = [base = config.report.base_url,
                 secret = config.report.secret](const RedisValue& r) -> Result<nlohmann::json> {
    nlohmann::json reviews = nlohmann::json::array();
    for (std::size_t i = 1; i < r.elements.size(); ++i) {
      const RedisValue& e = r.elements[i];
      if (e.elements.size() != 2) return Error{ErrorCode::kInternal, "bad review_list entry"};
      std::string id = e.elements[0].AsString();
      std::map<std::string, std::string> f;
      const auto& flat = e.elements[1].elements;
      for (std::size_t k = 0; k + 1 < flat.size(); k += 2) {
        f[flat[k].AsString()] = flat[k + 1].AsString();
      }
      reviews.push_back({{"id", id},
                         {"requested", f["review_at"]},
                         {"kind", f["kind"]},
                         {"subject", f["subject"]},
                         {"reason", f["reason"]},
                         {"text", f["review_text"]},
                         {"url", ReportUrl(base, secret, id)}});
    }
    return nlohmann::json{{"reviews", reviews}};
  };
  return call;
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
  AdminCall call;
  call.script = "review_resolve";
  call.argv = {config.redis.key_prefix, "0", *id, *note, source};
  call.result = [id = *id, note = *note](const RedisValue& reply) {
    return ScriptOutcome(reply, [&](const RedisValue& r) -> Result<nlohmann::json> {
      return nlohmann::json{{"id", id},
                            {"review", "resolved"},
                            {"note", note},
                            {"resolved_at", r.elements.size() > 1 ? r.elements[1].AsString()
                                                                  : ""}};
    });
  };
  return call;
}

Result<AdminCall> ResolveReviewApi(const Config& config, const nlohmann::json& input) {
  return ResolveReview(config, input, "api");
}

}  // namespace policyd::ops
