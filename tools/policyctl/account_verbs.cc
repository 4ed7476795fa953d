// account set|show and domain add|verify|del|list: an account's plan and its domains
// (docs/redis-keys.md: PREFIXaccount:{account:NAME}, PREFIXdomains:{account:NAME}).
#include <fmt/format.h>

#include "ops/account_ops.h"
#include "ops/admin_input.h"
#include "ops/domain_ops.h"
#include "policyctl/usage_read.h"
#include "policyctl/verbs.h"
#include "core/redis_keys.h"

namespace policyd::admin {

// account set and the record account show prints run lib/ops/account_ops.h's operations
// (account.lua), the same as the admin API's /api/v1/admin/accounts/{account} routes.
namespace {

Status RunAccountOp(VerbContext& ctx, Result<ops::AdminCall> call, nlohmann::json* out) {
  if (!call.ok()) return call.error();
  Result<nlohmann::json> r = ctx.session.Run(std::move(*call));
  if (!r.ok()) {
    if (r.error().code == ErrorCode::kNotFound) {
      const std::string& account = ctx.inv.args[0];
      return NotFound(fmt::format("account '{}' not found; create it: policyctl account set {}",
                                  Cell(account), Cell(account)));
    }
    return r.error();
  }
  *out = std::move(*r);
  return Ok{};
}

}  // namespace

Status AccountSet(VerbContext& ctx) {
  nlohmann::json input = {{"account", ctx.inv.args[0]}};
  if (ctx.inv.Has("--plan")) input["plan"] = ctx.inv.Get("--plan");
  nlohmann::json j;
  if (Status s = RunAccountOp(ctx, ops::SetAccount(ctx.config, input), &j); !s.ok()) return s;
  std::string now_plan = j["plan"];
  std::string shown = now_plan.empty() ? "(default plan " + ctx.config.policy.default_plan + ")"
                                       : now_plan;
  bool created = j["created"];
  ctx.Emit(j, fmt::format("account {} {}: plan {}\n", j["account"].get<std::string>(),
                          created ? "created" : "updated", shown));
  return Ok{};
}

Status AccountShow(VerbContext& ctx) {
  nlohmann::json record;
  if (Status s = RunAccountOp(ctx, ops::ShowAccount(ctx.config, {{"account", ctx.inv.args[0]}}),
                              &record);
      !s.ok()) {
    return s;
  }
  std::string account = record["account"], plan = record["plan"];
  UsageTags tags;
  tags.account = SubjectTag(SubjectKind::kAccount, account);
  Result<UsageData> usage = ReadUsage(ctx.session, tags, "");
  if (!usage.ok()) return usage.error();

  nlohmann::json j = {{"account", account},
                      {"plan", plan},
                      {"effective_plan", usage->plan},
                      {"domains", nlohmann::json::object()},
                      {"limits", nlohmann::json::array()}};
  std::vector<Row> domain_rows, limit_rows;
  for (const auto& [domain, state] : record["domains"].items()) {
    j["domains"][domain] = state;
    domain_rows.push_back({domain, state.get<std::string>()});
  }
  j["quota"] = record["quota"];
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
  std::string text = RenderFields({{"account", account},
                                   {"plan", plan},
                                   {"effective plan", effective}});
  text += "\ndomains:\n" + RenderSection({"DOMAIN", "STATE"}, domain_rows);
  text += fmt::format("\nlimits (plan {}):\n", usage->plan) +
          RenderSection({"SUBJECT", "METRIC", "WINDOW", "MAX"}, limit_rows);
  ctx.Emit(j, text);
  return Ok{};
}

// The domain verbs run lib/ops/domain_ops.h's operations, the same as the admin API's
// /api/v1/admin/accounts/{account}/domains routes; only the input and the hints are theirs.
namespace {

Status RunDomainOp(VerbContext& ctx, Result<ops::AdminCall> (*op)(const Config&,
                                                                   const nlohmann::json&),
                   nlohmann::json input, nlohmann::json* out) {
  Result<ops::AdminCall> call = op(ctx.config, input);
  if (!call.ok()) return call.error();
  Result<nlohmann::json> r = ctx.session.Run(std::move(*call));
  if (!r.ok()) {
    std::string account = input.value("account", ""), domain = input.value("domain", "");
    if (r.error().code == ErrorCode::kNotFound && r.error().message == "account") {
      return NotFound(fmt::format("account '{}' not found; create it: policyctl account set {}",
                                  Cell(account), Cell(account)));
    }
    if (r.error().code == ErrorCode::kNotFound) {
      return NotFound(fmt::format("account {} has no domain {}; add it: policyctl domain add "
                                  "{} {}",
                                  Cell(account), Cell(domain), Cell(account), Cell(domain)));
    }
    return r.error();
  }
  *out = std::move(*r);
  return Ok{};
}

nlohmann::json DomainInput(VerbContext& ctx) {
  return {{"account", ctx.inv.args[0]}, {"domain", ctx.inv.args[1]}};
}

Status EmitState(VerbContext& ctx, const nlohmann::json& j) {
  ctx.Emit(j, fmt::format("{} on account {}: {}\n", j["domain"].get<std::string>(),
                          j["account"].get<std::string>(), j["state"].get<std::string>()));
  return Ok{};
}

}  // namespace

Status DomainAdd(VerbContext& ctx) {
  nlohmann::json input = DomainInput(ctx);
  if (ctx.inv.Has("--verified")) input["verified"] = true;
  nlohmann::json j;
  if (Status s = RunDomainOp(ctx, ops::AddDomain, input, &j); !s.ok()) return s;
  return EmitState(ctx, j);
}

Status DomainVerify(VerbContext& ctx) {
  nlohmann::json j;
  if (Status s = RunDomainOp(ctx, ops::VerifyDomain, DomainInput(ctx), &j); !s.ok()) return s;
  return EmitState(ctx, j);
}

Status DomainDel(VerbContext& ctx) {
  nlohmann::json j;
  if (Status s = RunDomainOp(ctx, ops::DeleteDomain, DomainInput(ctx), &j); !s.ok()) return s;
  ctx.Emit(j, fmt::format("{} removed from account {}\n", j["domain"].get<std::string>(),
                          j["account"].get<std::string>()));
  return Ok{};
}

Status DomainList(VerbContext& ctx) {
  nlohmann::json j;
  if (Status s = RunDomainOp(ctx, ops::ListDomains, {{"account", ctx.inv.args[0]}}, &j);
      !s.ok()) {
    return s;
  }
  std::vector<Row> rows;
  for (const auto& d : j["domains"]) {
    rows.push_back({d["domain"].get<std::string>(), d["state"].get<std::string>()});
  }
  ctx.Emit(j["domains"], RenderTable({"DOMAIN", "STATE"}, rows));
  return Ok{};
}

}  // namespace policyd::admin
