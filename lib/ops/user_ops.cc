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

namespace {

std::string UserKey(const Config& config, const std::string& name) {
  return BuildKey(config.redis.key_prefix, "user", SubjectTag(SubjectKind::kUser, name));
}

Result<std::string> UserNameOf(const nlohmann::json& input) {
  Result<std::optional<std::string>> user = StringField(input, "user", true);
  if (!user.ok()) return user.error();
  Result<std::string> name = admin::CheckUserName(**user);
  if (!name.ok()) return FieldError("user", name.error().message);
  return *name;
}

}  // namespace

Result<AdminCall> SetUser(const Config& config, const nlohmann::json& input) {
  if (Status s = CheckFields(input, {"user", "account", "plan", "mode", "limits", "unset_limits"});
      !s.ok()) {
    return s.error();
  }
  Result<std::string> name = UserNameOf(input);
  if (!name.ok()) return name.error();
  std::vector<std::string> set, unset;
  std::string account, mode;
  Result<std::optional<std::string>> a = StringField(input, "account", false);
  if (!a.ok()) return a.error();
  if (a->has_value()) {
    Result<std::string> checked = admin::CheckAccountName(**a);
    if (!checked.ok()) return FieldError("account", checked.error().message);
    account = *checked;
    set.insert(set.end(), {"account", account});
  }
  Result<std::optional<std::string>> plan = PlanField(config, input);
  if (!plan.ok()) return plan.error();
  if (plan->has_value()) set.insert(set.end(), {"plan", **plan});
  Result<std::optional<std::string>> m = StringField(input, "mode", false);
  if (!m.ok()) return m.error();
  if (m->has_value()) {
    Result<std::string> checked = admin::CheckMode(**m);
    if (!checked.ok()) return FieldError("mode", checked.error().message);
    mode = *checked;
    set.insert(set.end(), {"mode", mode});
  }
  if (input.contains("limits")) {
    if (!input["limits"].is_object()) {
      return FieldError("limits", "expected an object such as {\"user:messages:1h\": 100}");
    }
    for (const auto& [label, max] : input["limits"].items()) {
      std::string text;
      if (max.is_number_unsigned()) {
        text = label + "=" + std::to_string(max.get<uint64_t>());
      } else if (max.is_string()) {
        text = label + "=" + max.get<std::string>();
      } else {
        return FieldError("limits", "each maximum is a number or a size such as \"2GiB\"");
      }
      Result<admin::LimitOverride> o = admin::ParseLimitOverride(text);
      if (!o.ok()) return FieldError("limits", o.error().message);
      set.insert(set.end(), {o->field, std::to_string(o->max)});
    }
  }
  auto unset_list = StringArrayField(input, "unset_limits", false, 100);
  if (!unset_list.ok()) return unset_list.error();
  for (const std::string& label : unset_list->value_or(std::vector<std::string>{})) {
    Result<std::string> f = admin::ParseLimitField(label);
    if (!f.ok()) return FieldError("unset_limits", f.error().message);
    unset.push_back(*f);
  }
  if (set.empty() && unset.empty()) {
    return FieldError("body", "nothing to set: give account, plan, mode, limits or unset_limits");
  }
  AdminCall call;
  call.script = "user_set";
  call.argv = {config.redis.key_prefix, "set", SubjectTag(SubjectKind::kUser, *name), account,
               "", mode, std::to_string(set.size() / 2)};
  call.argv.insert(call.argv.end(), set.begin(), set.end());
  call.argv.insert(call.argv.end(), unset.begin(), unset.end());
  call.route_key = UserKey(config, *name);
  call.result = [user = *name](const RedisValue& reply) {
    return ScriptOutcome(reply, [&user](const RedisValue& r) -> Result<nlohmann::json> {
      return nlohmann::json{{"user", user},
                            {"created", r.elements.size() > 1 && r.elements[1].AsInt() == 1}};
    });
  };
  if (account.empty() || config.redis.cluster.empty()) return call;
  // On a cluster the account lives in another slot: a read there first, then user_set told
  // the account exists. Two steps there, not one atomic call; nothing deletes an account
  // (account.lua creates and changes), so the answer of the first cannot go stale.
  AdminCall exists;
  exists.argv = {"EXISTS", BuildKey(config.redis.key_prefix, "account",
                                    SubjectTag(SubjectKind::kAccount, account))};
  exists.then = [write = std::move(call)](const RedisValue& r) -> Result<AdminCall> {
    if (r.AsInt() != 1) return Error{ErrorCode::kNotFound, "account"};
    AdminCall checked = write;
    checked.argv[4] = "1";
    return checked;
  };
  return exists;
}

Result<AdminCall> DeleteUser(const Config& config, const nlohmann::json& input) {
  if (Status s = CheckFields(input, {"user"}); !s.ok()) return s.error();
  Result<std::string> name = UserNameOf(input);
  if (!name.ok()) return name.error();
  AdminCall call;
  call.script = "user_set";
  call.argv = {config.redis.key_prefix, "del", SubjectTag(SubjectKind::kUser, *name), "", "",
               "", "0"};
  call.route_key = UserKey(config, *name);
  call.result = [user = *name](const RedisValue& reply) {
    return ScriptOutcome(reply, [&user](const RedisValue&) -> Result<nlohmann::json> {
      return nlohmann::json{{"user", user}, {"deleted", true}};
    });
  };
  return call;
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
  call.route_key = UserKey(config, *name);
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
