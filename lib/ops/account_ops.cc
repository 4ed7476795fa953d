#include "ops/account_ops.h"

#include <charconv>
#include <map>

#include "core/redis_keys.h"
#include "ops/admin_input.h"
#include "ops/op_input.h"

namespace policyd::ops {
namespace {

std::map<std::string, std::string> HashOf(const RedisValue& flat) {
  std::map<std::string, std::string> out;
  for (std::size_t i = 0; i + 1 < flat.elements.size(); i += 2) {
    out[flat.elements[i].AsString()] = flat.elements[i + 1].AsString();
  }
  return out;
}

Result<AdminCall> AccountCall(const Config& config, const nlohmann::json& input, bool set) {
  std::vector<std::string_view> known = {"account"};
  if (set) known.push_back("plan");
  if (Status s = CheckFields(input, known); !s.ok()) return s.error();
  Result<std::optional<std::string>> a = StringField(input, "account", true);
  if (!a.ok()) return a.error();
  Result<std::string> account = admin::CheckAccountName(**a);
  if (!account.ok()) return FieldError("account", account.error().message);
  std::string mode = set ? "create" : "show", plan;  // create: keep a stored plan
  if (set) {
    Result<std::optional<std::string>> p = PlanField(config, input);
    if (!p.ok()) return p.error();
    if (p->has_value()) {
      plan = **p;
      mode = "set";
    }
  }
  AdminCall call;
  call.script = "account";
  call.argv = {config.redis.key_prefix, mode, *account, plan};
  call.route_key = BuildKey(config.redis.key_prefix, "account",
                            SubjectTag(SubjectKind::kAccount, *account));
  call.result = [set, account = *account](const RedisValue& reply) {
    return ScriptOutcome(reply, [&](const RedisValue& r) -> Result<nlohmann::json> {
      if (r.elements.size() != 4) return Error{ErrorCode::kInternal, "bad account reply"};
      std::map<std::string, std::string> fields = HashOf(r.elements[2]);
      nlohmann::json quota = nullptr;
      uint64_t q = 0;
      const std::string& qt = fields["quota"];
      auto [p, ec] = std::from_chars(qt.data(), qt.data() + qt.size(), q);
      if (!qt.empty() && ec == std::errc() && p == qt.data() + qt.size()) quota = q;
      nlohmann::json j = {{"account", account},
                          {"plan", fields["plan"]},
                          {"quota", quota},
                          {"domains", HashOf(r.elements[3])}};
      if (set) j["created"] = r.elements[1].AsInt() == 1;
      return j;
    });
  };
  return call;
}

}  // namespace

Result<AdminCall> SetAccount(const Config& config, const nlohmann::json& input) {
  return AccountCall(config, input, true);
}

Result<AdminCall> ShowAccount(const Config& config, const nlohmann::json& input) {
  return AccountCall(config, input, false);
}

}  // namespace policyd::ops
