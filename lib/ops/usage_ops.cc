#include "ops/usage_ops.h"

#include <fmt/format.h>

#include "core/decide_args.h"
#include "core/redis_keys.h"
#include "ops/admin_input.h"
#include "ops/op_input.h"

namespace policyd::ops {

Result<AdminCall> ShowUsage(const Config& config, const nlohmann::json& input) {
  if (Status s = CheckFields(input, {"subject", "plan", "sender", "ip"}); !s.ok()) {
    return s.error();
  }
  Result<std::optional<std::string>> text = StringField(input, "subject", true);
  if (!text.ok()) return text.error();
  Result<admin::UsageSubject> subject = admin::ParseUsageSubject(**text);
  if (!subject.ok()) return FieldError("subject", subject.error().message);
  Result<std::optional<std::string>> p = PlanField(config, input);
  if (!p.ok()) return p.error();
  std::string plan = p->value_or("");
  std::string user, account, sender, ip;
  for (const char* field : {"sender", "ip"}) {
    Result<std::optional<std::string>> v = StringField(input, field, false);
    if (!v.ok()) return v.error();
    if (!v->has_value()) continue;
    if (subject->kind != SubjectKind::kUser) {
      return FieldError(field, fmt::format("goes with a user:NAME subject, not '{}'",
                                           subject->tag));
    }
    if (std::string_view(field) == "sender") {
      Result<std::string> s = ParseBlockSubject("sender:" + **v);
      if (!s.ok()) return FieldError(field, s.error().message);
      sender = *s;
    } else {
      Result<admin::UsageSubject> a = admin::ParseUsageSubject("ip:" + **v);
      if (!a.ok()) return FieldError(field, a.error().message);
      ip = a->tag;
    }
  }
  switch (subject->kind) {
    case SubjectKind::kUser: user = subject->tag; break;
    case SubjectKind::kAccount: account = subject->tag; break;
    case SubjectKind::kSender: sender = subject->tag; break;
    case SubjectKind::kIp: ip = subject->tag; break;
  }
  AdminCall call;
  call.script = "usage";
  call.argv = {config.redis.key_prefix, "0", PlansSpec(config), config.policy.default_plan,
               std::to_string(config.policy.buckets), plan, user, account, sender, ip};
  call.result = [kind = subject->kind, tag = subject->tag](const RedisValue& r)
      -> Result<nlohmann::json> {
    const auto& e = r.elements;
    if (e.size() < 4) return Error{ErrorCode::kInternal, "usage script: short reply"};
    if (e[0].AsInt() != 1) return Error{ErrorCode::kNotFound, tag + " not found"};
    nlohmann::json j = {{"subject", tag},
                        {"plan", e[1].AsString()},
                        {"account", e[3].AsString()},
                        {"limits", nlohmann::json::array()}};
    if (!e[2].AsString().empty()) j["unknown_plan"] = e[2].AsString();
    for (std::size_t i = 4; i < e.size(); ++i) {
      const auto& f = e[i].elements;
      if (f.size() != 8) return Error{ErrorCode::kInternal, "usage script: bad limit entry"};
      std::string limit_kind = f[0].AsString();
      // A user's request is checked against all four kinds; other subjects show their own.
      if (kind != SubjectKind::kUser && SubjectKindName(kind) != limit_kind) continue;
      bool counted = f[5].AsInt() >= 0;
      j["limits"].push_back({{"subject", limit_kind},
                             {"counter", f[1].AsString()},
                             {"metric", f[2].AsString()},
                             {"window_s", f[4].AsInt()},
                             {"max", f[3].AsInt()},
                             {"count", counted ? nlohmann::json(f[5].AsInt()) : nlohmann::json()},
                             {"retry_after_s",
                              counted ? nlohmann::json(f[6].AsInt()) : nlohmann::json()},
                             {"override", f[7].AsInt() == 1}});
    }
    return j;
  };
  return call;
}

}  // namespace policyd::ops
