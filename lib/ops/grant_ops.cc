#include "ops/grant_ops.h"

#include "core/redis_keys.h"
#include "ops/admin_input.h"
#include "ops/op_input.h"

namespace policyd::ops {
namespace {

Error NotFound(const std::string& what) { return Error{ErrorCode::kNotFound, what}; }

// On a Redis Cluster the user (record, grants) and its account (domains) live in two slots:
// the user's account is read in the user's slot, then the covering domain in the account's,
// then grant.lua in the user's slot is given both and re-checks that the user still names that
// account. Three steps there, not one atomic call: a domain deleted between the second and the
// third leaves a grant that no domain covers, which decisions ignore (_access.lua checks the
// domain too) and grant list shows, as a grant whose domain is deleted later does.
AdminCall ClusterGrant(const Config& config, AdminCall write, std::vector<std::string> candidates) {
  const std::string& prefix = config.redis.key_prefix;
  AdminCall user;
  user.argv = {"HMGET", write.route_key, "account", "mode"};
  user.then = [prefix, write = std::move(write),
               candidates = std::move(candidates)](const RedisValue& r) -> Result<AdminCall> {
    if (r.elements.size() != 2) return Error{ErrorCode::kInternal, "bad HMGET reply"};
    if (r.elements[0].type == RedisValue::Type::kNil &&
        r.elements[1].type == RedisValue::Type::kNil) {
      return NotFound("user");  // every user has an account or a mode
    }
    std::string account = r.elements[0].AsString();
    if (!IsValidAccountName(account)) return NotFound("account");
    AdminCall domains;
    domains.argv = {"HMGET",
                    BuildKey(prefix, "domains", SubjectTag(SubjectKind::kAccount, account))};
    domains.argv.insert(domains.argv.end(), candidates.begin(), candidates.end());
    domains.then = [write, account, candidates](const RedisValue& d) -> Result<AdminCall> {
      for (std::size_t i = 0; i < d.elements.size() && i < candidates.size(); ++i) {
        if (d.elements[i].type == RedisValue::Type::kNil) continue;
        AdminCall grant = write;
        grant.argv[4] = account;
        grant.argv[5] = candidates[i];
        grant.argv[6] = d.elements[i].AsString();
        return grant;
      }
      return NotFound("domain:" + account);
    };
    return domains;
  };
  return user;
}

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
  std::string tag = SubjectTag(SubjectKind::kUser, *name);
  call.argv = {config.redis.key_prefix, mode, tag, *pattern, "", "", ""};
  call.route_key = BuildKey(config.redis.key_prefix, "user", tag);
  std::string base = pattern->rfind("*.", 0) == 0 ? pattern->substr(2) : *pattern;
  std::vector<std::string> candidates = admin::DomainAndParents(base);
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
  if (mode == "revoke" || config.redis.cluster.empty()) {
    call.argv.insert(call.argv.end(), candidates.begin(), candidates.end());
    return call;
  }
  return ClusterGrant(config, std::move(call), std::move(candidates));
}

}  // namespace

Result<AdminCall> GrantDomain(const Config& config, const nlohmann::json& input) {
  return GrantCall(config, input, "grant");
}

Result<AdminCall> RevokeDomain(const Config& config, const nlohmann::json& input) {
  return GrantCall(config, input, "revoke");
}

}  // namespace policyd::ops
