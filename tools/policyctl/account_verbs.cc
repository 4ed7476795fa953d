// account set|show and domain add|verify|del|list: an account's plan and its domains
// (docs/redis-keys.md: PREFIXaccount:{account:NAME}, PREFIXdomains:{account:NAME}).
#include <fmt/format.h>

#include "ops/admin_input.h"
#include "policyctl/usage_read.h"
#include "policyctl/verbs.h"
#include "core/redis_keys.h"

namespace policyd::admin {
namespace {

constexpr const char* kVerified = "verified";
constexpr const char* kUnverified = "unverified";

// ACCOUNT and DOMAIN of the domain verbs, validated.
Status AccountAndDomain(VerbContext& ctx, std::string* account, std::string* domain) {
  Result<std::string> a = CheckAccountName(ctx.inv.args[0]);
  if (!a.ok()) return a.error();
  Result<std::string> d = CheckDomain(ctx.inv.args[1]);
  if (!d.ok()) return d.error();
  *account = *a;
  *domain = *d;
  return Ok{};
}

Status EmitDomain(VerbContext& ctx, const std::string& account, const std::string& domain) {
  Result<RedisValue> state = ctx.session.Command({"HGET", ctx.keys.Domains(account), domain});
  if (!state.ok()) return state.error();
  ctx.Emit({{"account", account}, {"domain", domain}, {"state", state->AsString()}},
           fmt::format("{} on account {}: {}\n", domain, account, state->AsString()));
  return Ok{};
}

}  // namespace

Status AccountSet(VerbContext& ctx) {
  Result<std::string> account = CheckAccountName(ctx.inv.args[0]);
  if (!account.ok()) return account.error();
  std::optional<std::string> plan;
  if (ctx.inv.Has("--plan")) {
    Result<std::string> p = CheckPlan(ctx.config, ctx.inv.Get("--plan"));
    if (!p.ok()) return p.error();
    plan = *p;
  }
  std::string key = ctx.keys.Account(*account);
  Result<RedisValue> existing = ctx.session.Command({"HGET", key, "plan"});
  if (!existing.ok()) return existing.error();
  bool created = existing->type == RedisValue::Type::kNil;
  // An account is its hash; one without a plan of its own stores plan "" (default plan).
  if (plan || created) {
    Result<RedisValue> r = ctx.session.Command({"HSET", key, "plan", plan.value_or("")});
    if (!r.ok()) return r.error();
  }
  std::string now_plan = plan ? *plan : existing->AsString();
  std::string shown = now_plan.empty() ? "(default plan " + ctx.config.policy.default_plan + ")"
                                       : now_plan;
  ctx.Emit({{"account", *account}, {"plan", now_plan}, {"created", created}},
           fmt::format("account {} {}: plan {}\n", *account, created ? "created" : "updated",
                       shown));
  return Ok{};
}

Status AccountShow(VerbContext& ctx) {
  Result<std::string> account = CheckAccountName(ctx.inv.args[0]);
  if (!account.ok()) return account.error();
  Result<RedisValue> hash = ctx.session.Command({"HGETALL", ctx.keys.Account(*account)});
  if (!hash.ok()) return hash.error();
  auto fields = HashOf(*hash);
  if (fields.empty()) {
    return NotFound(fmt::format("account '{}' not found; create it: policyctl account set {}",
                                *account, *account));
  }
  Result<RedisValue> domains = ctx.session.Command({"HGETALL", ctx.keys.Domains(*account)});
  if (!domains.ok()) return domains.error();
  UsageTags tags;
  tags.account = SubjectTag(SubjectKind::kAccount, *account);
  Result<UsageData> usage = ReadUsage(ctx.session, tags, "");
  if (!usage.ok()) return usage.error();

  nlohmann::json j = {{"account", *account},
                      {"plan", fields["plan"]},
                      {"effective_plan", usage->plan},
                      {"domains", nlohmann::json::object()},
                      {"limits", nlohmann::json::array()}};
  std::vector<Row> domain_rows, limit_rows;
  for (const auto& [domain, state] : HashOf(*domains)) {
    j["domains"][domain] = state;
    domain_rows.push_back({domain, state});
  }
  for (const LimitState& l : usage->limits) {
    j["limits"].push_back({{"subject", l.kind}, {"metric", l.metric}, {"window_s", l.window_s},
                           {"max", l.max}});
    limit_rows.push_back({l.kind, l.metric, FormatDuration(l.window_s * 1000),
                          AmountText(l.metric, l.max)});
  }
  std::string effective = usage->plan;
  if (!usage->unknown_plan.empty()) {
    effective += fmt::format(" ('{}' is not in the configuration)", usage->unknown_plan);
  }
  std::string text = RenderFields({{"account", *account},
                                   {"plan", fields["plan"]},
                                   {"effective plan", effective}});
  text += "\ndomains:\n" + RenderSection({"DOMAIN", "STATE"}, domain_rows);
  text += fmt::format("\nlimits (plan {}):\n", usage->plan) +
          RenderSection({"SUBJECT", "METRIC", "WINDOW", "MAX"}, limit_rows);
  ctx.Emit(j, text);
  return Ok{};
}

Status DomainAdd(VerbContext& ctx) {
  std::string account, domain;
  if (Status s = AccountAndDomain(ctx, &account, &domain); !s.ok()) return s;
  if (Status s = RequireAccount(ctx, account); !s.ok()) return s;
  // Adding again keeps a verified domain verified, unless --verified says so anyway.
  Result<RedisValue> r =
      ctx.inv.Has("--verified")
          ? ctx.session.Command({"HSET", ctx.keys.Domains(account), domain, kVerified})
          : ctx.session.Command({"HSETNX", ctx.keys.Domains(account), domain, kUnverified});
  if (!r.ok()) return r.error();
  return EmitDomain(ctx, account, domain);
}

Status DomainVerify(VerbContext& ctx) {
  std::string account, domain;
  if (Status s = AccountAndDomain(ctx, &account, &domain); !s.ok()) return s;
  if (Status s = RequireAccount(ctx, account); !s.ok()) return s;
  Result<RedisValue> has = ctx.session.Command({"HEXISTS", ctx.keys.Domains(account), domain});
  if (!has.ok()) return has.error();
  if (has->AsInt() == 0) {
    return NotFound(fmt::format("account {} has no domain {}; add it: policyctl domain add {} {}",
                                account, domain, account, domain));
  }
  Result<RedisValue> r =
      ctx.session.Command({"HSET", ctx.keys.Domains(account), domain, kVerified});
  if (!r.ok()) return r.error();
  return EmitDomain(ctx, account, domain);
}

Status DomainDel(VerbContext& ctx) {
  std::string account, domain;
  if (Status s = AccountAndDomain(ctx, &account, &domain); !s.ok()) return s;
  Result<RedisValue> r = ctx.session.Command({"HDEL", ctx.keys.Domains(account), domain});
  if (!r.ok()) return r.error();
  if (r->AsInt() == 0) {
    return NotFound(fmt::format("account '{}' has no domain {}", account, domain));
  }
  ctx.Emit({{"account", account}, {"domain", domain}, {"deleted", true}},
           fmt::format("{} removed from account {}\n", domain, account));
  return Ok{};
}

Status DomainList(VerbContext& ctx) {
  Result<std::string> account = CheckAccountName(ctx.inv.args[0]);
  if (!account.ok()) return account.error();
  if (Status s = RequireAccount(ctx, *account); !s.ok()) return s;
  Result<RedisValue> r = ctx.session.Command({"HGETALL", ctx.keys.Domains(*account)});
  if (!r.ok()) return r.error();
  nlohmann::json j = nlohmann::json::array();
  std::vector<Row> rows;
  for (const auto& [domain, state] : HashOf(*r)) {
    j.push_back({{"domain", domain}, {"state", state}});
    rows.push_back({domain, state});
  }
  ctx.Emit(j, RenderTable({"DOMAIN", "STATE"}, rows));
  return Ok{};
}

}  // namespace policyd::admin
