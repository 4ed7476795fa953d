#include "ops/grant_ops.h"

#include "core/redis_keys.h"
#include "ops/admin_input.h"
#include "ops/op_input.h"

namespace policyd::ops {
namespace {

Result<AdminCall> GrantCall(const Config& config, const nlohmann::json& input,
                            const std::string& mode) {
  if (Status s = CheckFields(input, {"user", "domain"}); !s.ok()) return s.error();
  Result<std::optional<std::string>> user = StringField(input, "user", true);
  if (!user.ok()) return user.error();
  Result<std::string> name = admin::CheckUserName(**user);
  if (!name.ok()) return FieldError("user", name.error().message);
  Result<std::optional<std::string>> domain = StringField(input, "domain", true);
  if (!domain.ok()) return domain.error();
  Result<std::string> pattern = admin::CheckGrantPattern(**domain);
  if (!pattern.ok()) return FieldError("domain", pattern.error().message);
  AdminCall call;
  call.script = "grant";
  call.argv = {config.redis.key_prefix, mode, SubjectTag(SubjectKind::kUser, *name), *pattern};
  std::string base = pattern->rfind("*.", 0) == 0 ? pattern->substr(2) : *pattern;
  for (const std::string& d : admin::DomainAndParents(base)) call.argv.push_back(d);
  call.result = [mode, user = *name, pattern = *pattern](const RedisValue& reply)
      -> Result<nlohmann::json> {
    if (reply.elements.size() >= 3 && reply.elements[0].AsString() == "notfound") {
      std::string what = reply.elements[1].AsString();
      if (what == "domain") what += ":" + reply.elements[2].AsString();
      return Error{ErrorCode::kNotFound, what};
    }
    return ScriptOutcome(reply, [&](const RedisValue& r) -> Result<nlohmann::json> {
      if (mode == "revoke") {
        return nlohmann::json{{"user", user}, {"domain", pattern}, {"revoked", true}};
      }
      if (r.elements.size() != 5) return Error{ErrorCode::kInternal, "bad grant reply"};
      return nlohmann::json{{"user", user},
                            {"domain", pattern},
                            {"account", r.elements[1].AsString()},
                            {"granted", true},
                            {"covering_domain", r.elements[2].AsString()},
                            {"covering_state", r.elements[3].AsString()},
                            {"mode", r.elements[4].AsString()}};
    });
  };
  return call;
}

}  // namespace

Result<AdminCall> GrantDomain(const Config& config, const nlohmann::json& input) {
  return GrantCall(config, input, "grant");
}

Result<AdminCall> RevokeDomain(const Config& config, const nlohmann::json& input) {
  return GrantCall(config, input, "revoke");
}

}  // namespace policyd::ops
