#include "ops/quota_ops.h"

#include <fmt/format.h>

#include <charconv>

#include "core/decide_args.h"
#include "core/redis_keys.h"
#include "ops/admin_input.h"
#include "ops/op_input.h"

namespace policyd::ops {
namespace {

constexpr uint64_t kMaxQuota = 1'000'000'000'000;

int64_t ToInt(const std::string& s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

// The subject tag of {"user": NAME} or {"account": NAME} (exactly one of them).
Result<std::string> SubjectOf(const nlohmann::json& input, bool with_quota) {
  std::vector<std::string_view> known = {"user", "account"};
  if (with_quota) known.push_back("quota");
  if (Status s = CheckFields(input, known); !s.ok()) return s.error();
  Result<std::optional<std::string>> user = StringField(input, "user", false);
  if (!user.ok()) return user.error();
  Result<std::optional<std::string>> account = StringField(input, "account", false);
  if (!account.ok()) return account.error();
  if (user->has_value() == account->has_value()) {
    return FieldError("user", "give exactly one of user and account");
  }
  if (user->has_value()) {
    Result<std::string> name = admin::CheckUserName(**user);
    if (!name.ok()) return FieldError("user", name.error().message);
    return SubjectTag(SubjectKind::kUser, *name);
  }
  Result<std::string> name = admin::CheckAccountName(**account);
  if (!name.ok()) return FieldError("account", name.error().message);
  return SubjectTag(SubjectKind::kAccount, *name);
}

Result<AdminCall> QuotaCall(const Config& config, const nlohmann::json& input,
                            const char* mode) {
  bool set = std::string_view(mode) == "set";
  Result<std::string> tag = SubjectOf(input, set);
  if (!tag.ok()) return tag.error();
  AdminCall call;
  call.script = "quota";
  call.argv = {config.redis.key_prefix, "0", AbuseSpec(config).quota, mode, *tag};
  bool account = tag->rfind("account:", 0) == 0;
  call.route_key = BuildKey(config.redis.key_prefix, account ? "account" : "user", *tag);
  if (set) {
    auto q = input.find("quota");
    if (q == input.end()) return FieldError("quota", "required (null removes the quota)");
    if (q->is_null()) {
      call.argv.push_back("");
    } else if (q->is_number_unsigned() && q->get<uint64_t>() >= 1 &&
               q->get<uint64_t>() <= kMaxQuota) {
      call.argv.push_back(std::to_string(q->get<uint64_t>()));
    } else {
      return FieldError("quota", fmt::format("expected messages per month from 1 to {}, or null",
                                             kMaxQuota));
    }
  }
  call.result = [tag = *tag](const RedisValue& reply) {
    return ScriptOutcome(reply, [&tag](const RedisValue& r) -> Result<nlohmann::json> {
      if (r.elements.size() != 7) return Error{ErrorCode::kInternal, "bad quota reply"};
      std::string period = r.elements[1].AsString();
      std::string quota = r.elements[2].AsString();
      int64_t used = ToInt(r.elements[3].AsString());
      bool unlocked = r.elements[4].AsInt() == 1;
      nlohmann::json warned = nlohmann::json::array();
      std::string levels = r.elements[6].AsString();
      for (std::size_t pos = 0; pos < levels.size();) {
        std::size_t comma = levels.find(',', pos);
        if (comma == std::string::npos) comma = levels.size();
        warned.push_back(ToInt(levels.substr(pos, comma - pos)));
        pos = comma + 1;
      }
      nlohmann::json j = {
          {"subject", tag},
          {"period", period.size() == 6 ? period.substr(0, 4) + "-" + period.substr(4) : period},
          {"quota", nullptr},
          {"used", used},
          {"unlocked", unlocked},
          {"locked", !quota.empty() && used >= ToInt(quota) && !unlocked},
          {"resets_at", ToInt(r.elements[5].AsString())},
          {"warned", warned}};
      if (!quota.empty()) j["quota"] = ToInt(quota);
      return j;
    });
  };
  return call;
}

}  // namespace

Result<AdminCall> ShowQuota(const Config& config, const nlohmann::json& input) {
  return QuotaCall(config, input, "show");
}

Result<AdminCall> SetQuota(const Config& config, const nlohmann::json& input) {
  return QuotaCall(config, input, "set");
}

Result<AdminCall> UnlockQuota(const Config& config, const nlohmann::json& input) {
  return QuotaCall(config, input, "unlock");
}

}  // namespace policyd::ops
