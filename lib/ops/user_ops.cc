#include "ops/user_ops.h"

#include <algorithm>
#include <charconv>

#include "core/ip_allow_list.h"
#include "core/redis_keys.h"
#include "ops/admin_input.h"
#include "ops/op_input.h"

namespace policyd::ops {

nlohmann::json UserRecordJson(const std::string& user,
                              const std::map<std::string, std::string>& fields,
                              std::vector<std::string> grants) {
  auto field = [&](const char* name) {
    auto it = fields.find(name);
    return it == fields.end() ? std::string() : it->second;
  };
  nlohmann::json overrides = nlohmann::json::object();
  for (const auto& [name, value] : fields) {
    std::string label = admin::LimitFieldLabel(name);
    if (!label.empty()) overrides[label] = value;
  }
  std::sort(grants.begin(), grants.end());
  nlohmann::json quota = nullptr;
  uint64_t q = 0;
  std::string qt = field("quota");
  auto [p, ec] = std::from_chars(qt.data(), qt.data() + qt.size(), q);
  if (!qt.empty() && ec == std::errc() && p == qt.data() + qt.size()) quota = q;
  return {{"user", user},
          {"account", field("account")},
          {"plan", field("plan")},
          {"mode", field("mode").empty() ? "explicit" : field("mode")},
          {"overrides", overrides},
          {"grants", grants},
          {"ip_allow", SplitIpAllowList(field("ip_allow"))},
          {"quota", quota}};
}

Result<AdminCall> ShowUser(const Config& config, const nlohmann::json& input) {
  if (Status s = CheckFields(input, {"user"}); !s.ok()) return s.error();
  Result<std::optional<std::string>> user = StringField(input, "user", true);
  if (!user.ok()) return user.error();
  Result<std::string> name = admin::CheckUserName(**user);
  if (!name.ok()) return FieldError("user", name.error().message);
  AdminCall call;
  call.script = "user_show";
  call.argv = {config.redis.key_prefix, SubjectTag(SubjectKind::kUser, *name)};
  call.result = [user = *name](const RedisValue& reply) {
    return ScriptOutcome(reply, [&user](const RedisValue& r) -> Result<nlohmann::json> {
      if (r.elements.size() != 3) return Error{ErrorCode::kInternal, "bad user_show reply"};
      std::map<std::string, std::string> fields;
      const auto& flat = r.elements[1].elements;
      for (std::size_t i = 0; i + 1 < flat.size(); i += 2) {
        fields[flat[i].AsString()] = flat[i + 1].AsString();
      }
      std::vector<std::string> grants;
      for (const RedisValue& g : r.elements[2].elements) grants.push_back(g.AsString());
      return UserRecordJson(user, fields, std::move(grants));
    });
  };
  return call;
}

}  // namespace policyd::ops
