#include "ops/domain_ops.h"

#include <map>

#include "core/redis_keys.h"
#include "ops/admin_input.h"
#include "ops/op_input.h"

namespace policyd::ops {
namespace {

Result<std::string> AccountOf(const nlohmann::json& input) {
  Result<std::optional<std::string>> a = StringField(input, "account", true);
  if (!a.ok()) return a.error();
  Result<std::string> name = admin::CheckAccountName(**a);
  if (!name.ok()) return FieldError("account", name.error().message);
  return *name;
}

Result<std::string> DomainOf(const nlohmann::json& input) {
  Result<std::optional<std::string>> d = StringField(input, "domain", true);
  if (!d.ok()) return d.error();
  Result<std::string> name = admin::CheckDomain(**d);
  if (!name.ok()) return FieldError("domain", name.error().message);
  return *name;
}

// One domain.lua call; the result from its reply.
Result<AdminCall> DomainCall(const Config& config, const std::string& mode,
                             const std::string& account, const std::string& domain) {
  AdminCall call;
  call.script = "domain";
  call.argv = {config.redis.key_prefix, mode, account, domain};
  call.route_key = BuildKey(config.redis.key_prefix, "account",
                            SubjectTag(SubjectKind::kAccount, account));
  call.result = [mode, account, domain](const RedisValue& reply) {
    return ScriptOutcome(reply, [&](const RedisValue& r) -> Result<nlohmann::json> {
      if (r.elements.size() != 3) return Error{ErrorCode::kInternal, "bad domain reply"};
      std::string state = r.elements[1].AsString();
      if (mode == "list") {
        std::map<std::string, std::string> sorted;
        const auto& flat = r.elements[2].elements;
        for (std::size_t i = 0; i + 1 < flat.size(); i += 2) {
          sorted[flat[i].AsString()] = flat[i + 1].AsString();
        }
        nlohmann::json list = nlohmann::json::array();
        for (const auto& [d, s] : sorted) list.push_back({{"domain", d}, {"state", s}});
        return nlohmann::json{{"account", account}, {"domains", list}};
      }
      if (mode == "del") {
        return nlohmann::json{{"account", account}, {"domain", domain}, {"deleted", true}};
      }
      return nlohmann::json{{"account", account}, {"domain", domain}, {"state", state}};
    });
  };
  return call;
}

Result<AdminCall> OneDomain(const Config& config, const nlohmann::json& input,
                            std::string mode, bool with_verified) {
  std::vector<std::string_view> known = {"account", "domain"};
  if (with_verified) known.push_back("verified");
  if (Status s = CheckFields(input, known); !s.ok()) return s.error();
  Result<std::string> account = AccountOf(input);
  if (!account.ok()) return account.error();
  Result<std::string> domain = DomainOf(input);
  if (!domain.ok()) return domain.error();
  if (with_verified && input.contains("verified")) {
    if (!input["verified"].is_boolean()) return FieldError("verified", "expected true or false");
    if (input["verified"].get<bool>()) mode = "add_verified";
  }
  return DomainCall(config, mode, *account, *domain);
}

}  // namespace

Result<AdminCall> AddDomain(const Config& config, const nlohmann::json& input) {
  return OneDomain(config, input, "add", true);
}

Result<AdminCall> VerifyDomain(const Config& config, const nlohmann::json& input) {
  return OneDomain(config, input, "verify", false);
}

Result<AdminCall> DeleteDomain(const Config& config, const nlohmann::json& input) {
  return OneDomain(config, input, "del", false);
}

Result<AdminCall> ListDomains(const Config& config, const nlohmann::json& input) {
  if (Status s = CheckFields(input, {"account"}); !s.ok()) return s.error();
  Result<std::string> account = AccountOf(input);
  if (!account.ok()) return account.error();
  return DomainCall(config, "list", *account, "");
}

}  // namespace policyd::ops
