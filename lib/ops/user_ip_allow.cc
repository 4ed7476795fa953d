#include "ops/user_ip_allow.h"

#include "core/ip_allow_list.h"
#include "core/redis_keys.h"
#include "ops/admin_input.h"
#include "ops/op_input.h"

namespace policyd::ops {
namespace {

Result<std::string> UserOf(const nlohmann::json& input) {
  Result<std::optional<std::string>> user = StringField(input, "user", true);
  if (!user.ok()) return user.error();
  Result<std::string> checked = admin::CheckUserName(**user);
  if (!checked.ok()) return FieldError("user", checked.error().message);
  return *checked;
}

nlohmann::json ListJson(const std::string& user, const std::string& text) {
  return {{"user", user}, {"ip_allow", SplitIpAllowList(text)}};
}

}  // namespace

Result<AdminCall> SetIpAllowList(const Config& config, const nlohmann::json& input) {
  if (Status s = CheckFields(input, {"user", "ip_allow"}); !s.ok()) return s.error();
  Result<std::string> user = UserOf(input);
  if (!user.ok()) return user.error();
  auto entries = StringArrayField(input, "ip_allow", true, 4 * kMaxIpAllowEntries);
  if (!entries.ok()) return entries.error();
  Result<std::vector<IpNetwork>> list = ParseIpAllowList(**entries);
  if (!list.ok()) {
    return FieldError("ip_allow", list.error().message);
  }
  AdminCall call;
  call.script = "user_ip_allow";
  call.argv = {config.redis.key_prefix, SubjectTag(SubjectKind::kUser, *user),
               IpAllowListText(*list), IpAllowListMatchForm(*list)};
  call.route_key =
      BuildKey(config.redis.key_prefix, "user", SubjectTag(SubjectKind::kUser, *user));
  call.result = [user = *user](const RedisValue& reply) {
    return ScriptOutcome(reply, [&user](const RedisValue& r) -> Result<nlohmann::json> {
      return ListJson(user, r.elements.size() > 1 ? r.elements[1].AsString() : "");
    });
  };
  return call;
}

Result<AdminCall> ShowIpAllowList(const Config& config, const nlohmann::json& input) {
  if (Status s = CheckFields(input, {"user"}); !s.ok()) return s.error();
  Result<std::string> user = UserOf(input);
  if (!user.ok()) return user.error();
  AdminCall call;
  // One read: the user's account says whether the user exists (every user has one field).
  call.argv = {"HMGET", BuildKey(config.redis.key_prefix, "user",
                                 SubjectTag(SubjectKind::kUser, *user)),
               "ip_allow", "account", "mode"};
  call.result = [user = *user](const RedisValue& reply) -> Result<nlohmann::json> {
    if (reply.elements.size() != 3) return Error{ErrorCode::kInternal, "bad HMGET reply"};
    bool exists = reply.elements[1].type != RedisValue::Type::kNil ||
                  reply.elements[2].type != RedisValue::Type::kNil;
    if (!exists) return Error{ErrorCode::kNotFound, "no such SMTP user"};
    return ListJson(user, reply.elements[0].AsString());
  };
  return call;
}

}  // namespace policyd::ops
