#include "ops/block_ops.h"

#include <map>

#include "core/redis_keys.h"
#include "core/report_token.h"
#include "ops/admin_input.h"
#include "ops/op_input.h"

namespace policyd::ops {
namespace {

Result<std::string> SubjectOf(const nlohmann::json& input) {
  Result<std::optional<std::string>> s = StringField(input, "subject", true);
  if (!s.ok()) return s.error();
  Result<std::string> tag = ParseBlockSubject(**s);
  if (!tag.ok()) return FieldError("subject", tag.error().message);
  return *tag;
}

nlohmann::json HashJson(const RedisValue& flat) {
  nlohmann::json out = nlohmann::json::object();
  for (std::size_t i = 0; i + 1 < flat.elements.size(); i += 2) {
    out[flat.elements[i].AsString()] = flat.elements[i + 1].AsString();
  }
  return out;
}

}  // namespace

Result<AdminCall> AddBlock(const Config& config, const nlohmann::json& input,
                           const std::string& source) {
  if (Status s = CheckFields(input, {"subject", "reason", "ttl", "evidence"}); !s.ok()) {
    return s.error();
  }
  Result<std::string> tag = SubjectOf(input);
  if (!tag.ok()) return tag.error();
  Result<std::optional<std::string>> reason_text = StringField(input, "reason", true);
  if (!reason_text.ok()) return reason_text.error();
  Result<std::string> reason = admin::CheckBlockReason(**reason_text);
  if (!reason.ok()) return FieldError("reason", reason.error().message);
  uint64_t duration_ms = 0;
  Result<std::optional<std::string>> ttl = StringField(input, "ttl", false);
  if (!ttl.ok()) return ttl.error();
  if (ttl->has_value()) {
    Result<uint64_t> ms = admin::CheckTtl(**ttl);
    if (!ms.ok()) return FieldError("ttl", ms.error().message);
    duration_ms = *ms;
  }
  Result<std::optional<std::string>> evidence_text = StringField(input, "evidence", false);
  if (!evidence_text.ok()) return evidence_text.error();
  Result<std::string> evidence = admin::CheckEvidence(evidence_text->value_or(""));
  if (!evidence.ok()) return FieldError("evidence", evidence.error().message);
  std::string report = NewReportId();
  AdminCall call;
  call.script = "block_add";
  call.argv = {config.redis.key_prefix, "0", *tag, *reason, *evidence,
               std::to_string(duration_ms), report, std::to_string(config.report.ttl_ms),
               std::to_string(config.abuse.evidence_max),
               std::to_string(config.abuse.evidence_ttl_ms), source};
  std::string url = ReportUrl(config.report.base_url, config.report.secret, report);
  call.result = [tag = *tag, reason = *reason, evidence = *evidence, report,
                 url](const RedisValue& r) -> Result<nlohmann::json> {
    std::string expires = r.elements.size() == 2 ? r.elements[1].AsString() : "";
    return nlohmann::json{{"subject", tag},   {"reason", reason},  {"evidence", evidence},
                          {"expires", expires}, {"report", report}, {"report_url", url}};
  };
  return call;
}

Result<AdminCall> ShowBlock(const Config& config, const nlohmann::json& input) {
  if (Status s = CheckFields(input, {"subject"}); !s.ok()) return s.error();
  Result<std::string> tag = SubjectOf(input);
  if (!tag.ok()) return tag.error();
  AdminCall call;
  call.script = "block_show";
  call.argv = {config.redis.key_prefix, *tag};
  call.result = [base = config.report.base_url,
                 secret = config.report.secret](const RedisValue& reply) {
    return ScriptOutcome(reply, [&](const RedisValue& r) -> Result<nlohmann::json> {
      if (r.elements.size() != 4) return Error{ErrorCode::kInternal, "bad block_show reply"};
      nlohmann::json j = HashJson(r.elements[1]);
      std::string report = j.value("report", "");
      j["report_url"] = report.empty() ? "" : ReportUrl(base, secret, report);
      j["history"] = HashJson(r.elements[2]);
      j["evidence_entries"] = nlohmann::json::array();
      for (const RedisValue& e : r.elements[3].elements) {
        nlohmann::json parsed = nlohmann::json::parse(e.AsString(), nullptr, false);
        j["evidence_entries"].push_back(parsed.is_object() ? parsed
                                                           : nlohmann::json(e.AsString()));
      }
      return j;
    });
  };
  return call;
}

Result<AdminCall> ListBlocks(const Config& config, const nlohmann::json& input) {
  if (Status s = CheckFields(input, {"cursor", "count", "reason"}); !s.ok()) return s.error();
  Result<std::optional<std::string>> cursor = StringField(input, "cursor", false);
  if (!cursor.ok()) return cursor.error();
  std::string c = cursor->value_or("0");
  if (c.empty() || c.size() > 20 || c.find_first_not_of("0123456789") != std::string::npos) {
    return FieldError("cursor", "expected the next_cursor of the previous page (digits), or 0");
  }
  Result<std::optional<std::string>> count_text = StringField(input, "count", false);
  if (!count_text.ok()) return count_text.error();
  uint64_t count = 100;
  if (count_text->has_value()) {
    Result<uint64_t> n = admin::CheckCount("count", **count_text, 1000);
    if (!n.ok()) return FieldError("count", n.error().message);
    count = *n;
  }
  std::string reason;
  Result<std::optional<std::string>> reason_text = StringField(input, "reason", false);
  if (!reason_text.ok()) return reason_text.error();
  if (reason_text->has_value()) {
    Result<std::string> r = admin::CheckBlockReason(**reason_text);
    if (!r.ok()) return FieldError("reason", r.error().message);
    reason = *r;
  }
  AdminCall call;
  call.script = "block_list";
  call.argv = {config.redis.key_prefix, c, std::to_string(count), reason};
  call.result = [](const RedisValue& reply) {
    return ScriptOutcome(reply, [](const RedisValue& r) -> Result<nlohmann::json> {
      if (r.elements.size() != 3) return Error{ErrorCode::kInternal, "bad block_list reply"};
      nlohmann::json blocks = nlohmann::json::array();
      for (const RedisValue& b : r.elements[2].elements) blocks.push_back(HashJson(b));
      return nlohmann::json{{"blocks", blocks}, {"next_cursor", r.elements[1].AsString()}};
    });
  };
  return call;
}

Result<AdminCall> LiftBlock(const Config& config, const nlohmann::json& input,
                            const std::string& source) {
  if (Status s = CheckFields(input, {"subject"}); !s.ok()) return s.error();
  Result<std::string> tag = SubjectOf(input);
  if (!tag.ok()) return tag.error();
  AdminCall call;
  call.script = "block_lift";
  call.argv = {config.redis.key_prefix, "0", *tag, source};
  call.result = [tag = *tag](const RedisValue& reply) {
    return ScriptOutcome(reply, [&tag](const RedisValue& r) -> Result<nlohmann::json> {
      return nlohmann::json{{"subject", tag},
                            {"deleted", true},
                            {"reason", r.elements.size() > 1 ? r.elements[1].AsString() : ""}};
    });
  };
  return call;
}

Result<AdminCall> AddBlockApi(const Config& config, const nlohmann::json& input) {
  return AddBlock(config, input, "api");
}

Result<AdminCall> LiftBlockApi(const Config& config, const nlohmann::json& input) {
  return LiftBlock(config, input, "api");
}

}  // namespace policyd::ops
