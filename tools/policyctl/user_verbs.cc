// user set|show|del, grant, revoke: SMTP users, their account, plan, mode and limit overrides,
// and the domains granted to them (docs/redis-keys.md: PREFIXuser:{user:NAME},
// PREFIXgrants:{user:NAME}).
#include <fmt/format.h>

#include <algorithm>

#include "ops/admin_input.h"
#include "ops/grant_ops.h"
#include "ops/user_ops.h"
#include "policyctl/usage_read.h"
#include "policyctl/verbs.h"
#include "core/ip_allow_list.h"
#include "core/redis_keys.h"

namespace policyd::admin {
namespace {

struct StoredUser {
  std::map<std::string, std::string> fields;  // the user hash
  std::vector<std::string> grants;            // sorted
};

Result<StoredUser> ReadUser(VerbContext& ctx, const std::string& user) {
  Result<RedisValue> hash = ctx.session.Command({"HGETALL", ctx.keys.User(user)});
  if (!hash.ok()) return hash.error();
  StoredUser u{HashOf(*hash), {}};
  if (u.fields.empty()) {
    return NotFound(fmt::format("user '{}' not found; create it: policyctl user set {} "
                                "--account ACCOUNT",
                                Cell(user), Cell(user)));
  }
  Result<RedisValue> grants = ctx.session.Command({"SMEMBERS", ctx.keys.Grants(user)});
  if (!grants.ok()) return grants.error();
  u.grants = StringsOf(*grants);
  std::sort(u.grants.begin(), u.grants.end());
  return u;
}

// The record user set and user show print: what is stored, the plan decisions use and the
// limits under it.
Status EmitUser(VerbContext& ctx, const std::string& user, const StoredUser& u) {
  UsageTags tags;
  tags.user = SubjectTag(SubjectKind::kUser, user);
  Result<UsageData> usage = ReadUsage(ctx.session, tags, "");
  if (!usage.ok()) return usage.error();
  auto field = [&](const char* name) {
    auto it = u.fields.find(name);
    return it == u.fields.end() ? std::string() : it->second;
  };
  std::string mode = field("mode").empty() ? "explicit" : field("mode");
  // The record as GET /api/v1/admin/users/{user} shows it (lib/ops/user_ops.h), plus the
  // effective plan and its limits.
  nlohmann::json j = ops::UserRecordJson(user, u.fields, u.grants);
  j["effective_plan"] = usage->plan;
  j["limits"] = nlohmann::json::array();
  std::vector<Row> rows;
  for (const LimitState& l : usage->limits) {
    j["limits"].push_back({{"subject", l.kind}, {"metric", l.metric}, {"window_s", l.window_s},
                           {"max", l.max}, {"override", l.override}});
    rows.push_back({l.kind, l.metric, FormatDuration(l.window_s * 1000),
                    AmountText(l.metric, l.max), l.override ? "override" : "plan"});
  }
  std::string effective = usage->plan;
  if (!usage->unknown_plan.empty()) {
    effective += fmt::format(" ('{}' is not in the configuration)", usage->unknown_plan);
  }
  std::string grants;
  for (const std::string& g : u.grants) grants += (grants.empty() ? "" : ", ") + g;
  std::string text = RenderFields({{"user", user},
                                   {"account", field("account")},
                                   {"plan", field("plan")},
                                   {"effective plan", effective},
                                   {"mode", mode},
                                   {"grants", grants},
                                   {"ip allow-list", field("ip_allow").empty()
                                                         ? std::string("(any address)")
                                                         : field("ip_allow")}});
  text += fmt::format("\nlimits (plan {}):\n", usage->plan) +
          RenderSection({"SUBJECT", "METRIC", "WINDOW", "MAX", "SOURCE"}, rows);
  ctx.Emit(j, text);
  const Plan* plan = ctx.config.FindPlan(usage->plan);
  if (mode == "any" && plan && !plan->allow_any_domain) {
    ctx.Note(fmt::format("note: plan {} does not allow any domain (allow_any_domain = false), so "
                         "mode any acts as mode account",
                         usage->plan));
  }
  return Ok{};
}

}  // namespace

// user set and user del run lib/ops/user_ops.h's operations (user_set.lua: the checks and
// the write in one call), the same as the admin API's PUT/DELETE /api/v1/admin/users/{user}.
Status UserSet(VerbContext& ctx) {
  Result<std::string> user = CheckUserName(ctx.inv.args[0]);
  if (!user.ok()) return user.error();
  nlohmann::json input = {{"user", *user}};
  if (ctx.inv.Has("--account")) input["account"] = ctx.inv.Get("--account");
  if (ctx.inv.Has("--plan")) input["plan"] = ctx.inv.Get("--plan");
  if (ctx.inv.Has("--mode")) input["mode"] = ctx.inv.Get("--mode");
  for (const std::string& text : ctx.inv.All("--limit")) {
    Result<LimitOverride> o = ParseLimitOverride(text);  // policyctl's own wording first
    if (!o.ok()) return o.error();
    auto eq = text.find('=');
    input["limits"][text.substr(0, eq)] = text.substr(eq + 1);
  }
  for (const std::string& text : ctx.inv.All("--unset-limit")) {
    Result<std::string> f = ParseLimitField(text);
    if (!f.ok()) return f.error();
    input["unset_limits"].push_back(text);
  }
  if (input.size() == 1) {
    return Invalid("nothing to set: give --account, --plan, --mode, --limit or --unset-limit");
  }
  Result<ops::AdminCall> call = ops::SetUser(ctx.config, input);
  if (!call.ok()) return call.error();
  Result<nlohmann::json> r = ctx.session.Run(std::move(*call));
  if (!r.ok()) {
    std::string account = input.value("account", "");
    if (r.error().code == ErrorCode::kNotFound) {
      return NotFound(fmt::format("account '{}' not found; create it: policyctl account set {}",
                                  account, account));
    }
    if (r.error().code == ErrorCode::kInvalid) {
      return Invalid(fmt::format("user '{}' does not exist; --account ACCOUNT is needed to "
                                 "create it",
                                 Cell(*user)));
    }
    return r.error();
  }
  Result<StoredUser> u = ReadUser(ctx, *user);
  if (!u.ok()) return u.error();
  return EmitUser(ctx, *user, *u);
}

Status UserShow(VerbContext& ctx) {
  Result<std::string> user = CheckUserName(ctx.inv.args[0]);
  if (!user.ok()) return user.error();
  Result<StoredUser> u = ReadUser(ctx, *user);
  if (!u.ok()) return u.error();
  return EmitUser(ctx, *user, *u);
}

Status UserDel(VerbContext& ctx) {
  Result<ops::AdminCall> call = ops::DeleteUser(ctx.config, {{"user", ctx.inv.args[0]}});
  if (!call.ok()) return call.error();
  Result<nlohmann::json> r = ctx.session.Run(std::move(*call));
  if (!r.ok()) {
    if (r.error().code == ErrorCode::kNotFound) {
      return NotFound(fmt::format("user '{}' not found", Cell(ctx.inv.args[0])));
    }
    return r.error();
  }
  ctx.Emit(*r, fmt::format("user {} deleted, with its grants\n",
                           Cell((*r)["user"].get<std::string>())));
  return Ok{};
}

// grant and revoke run lib/ops/grant_ops.h's operations (grant.lua), the same as the admin
// API's /api/v1/admin/users/{user}/grants/{domain} routes; the hints are policyctl's.
namespace {

Status RunGrantOp(VerbContext& ctx, Result<ops::AdminCall> (*op)(const Config&,
                                                                  const nlohmann::json&),
                  nlohmann::json* out) {
  const std::string& user = ctx.inv.args[0];
  Result<ops::AdminCall> call = op(ctx.config, {{"user", user}, {"domain", ctx.inv.args[1]}});
  if (!call.ok()) return call.error();
  Result<nlohmann::json> r = ctx.session.Run(std::move(*call));
  if (r.ok()) {
    *out = std::move(*r);
    return Ok{};
  }
  if (r.error().code != ErrorCode::kNotFound) return r.error();
  const std::string& what = r.error().message;
  Result<std::string> p = CheckGrantPattern(ctx.inv.args[1]);
  std::string pattern = p.ok() ? *p : ctx.inv.args[1];
  std::string base = pattern.rfind("*.", 0) == 0 ? pattern.substr(2) : pattern;
  if (what == "user") {
    return NotFound(fmt::format("user '{}' not found; create it: policyctl user set {} "
                                "--account ACCOUNT",
                                Cell(user), Cell(user)));
  }
  if (what == "account") {
    return NotFound(fmt::format("user {} has no account; set one: policyctl user set {} "
                                "--account ACCOUNT",
                                Cell(user), Cell(user)));
  }
  if (what.rfind("domain:", 0) == 0) {
    std::string account = what.substr(7);
    return NotFound(fmt::format("account {} has no domain {}, so it cannot be granted to {}; "
                                "add it first: policyctl domain add {} {}",
                                account, base, Cell(user), account, base));
  }
  return NotFound(fmt::format("user '{}' has no grant {}", Cell(user), pattern));
}

}  // namespace

Status Grant(VerbContext& ctx) {
  nlohmann::json j;
  if (Status s = RunGrantOp(ctx, ops::GrantDomain, &j); !s.ok()) return s;
  std::string user = j["user"], pattern = j["domain"], account = j["account"];
  std::string covering = j["covering_domain"], mode = j["mode"];
  ctx.Emit(j, fmt::format("granted {} to {}\n", pattern, Cell(user)));
  if (j["covering_state"] != "verified") {
    ctx.Note(fmt::format("note: {} is not verified on account {}: mail from it is refused until "
                         "policyctl domain verify {} {}",
                         covering, account, account, covering));
  }
  if (mode == "account" || mode == "any") {
    ctx.Note(fmt::format("note: {} is in mode {}: grants count only in mode explicit",
                         Cell(user), mode));
  }
  return Ok{};
}

Status Revoke(VerbContext& ctx) {
  nlohmann::json j;
  if (Status s = RunGrantOp(ctx, ops::RevokeDomain, &j); !s.ok()) return s;
  ctx.Emit(j, fmt::format("revoked {} from {}\n", j["domain"].get<std::string>(),
                          Cell(j["user"].get<std::string>())));
  return Ok{};
}

}  // namespace policyd::admin
