// explain: a policy request through PolicyStore::Decide in explain mode (decide.lua with
// mode 'explain': the same checks, no writes, no counting), printed as the reply policyd would
// give, the rule that fired and the script's facts, plus the user's grants and its account's
// domains for context.
#include <fmt/format.h>

#include <algorithm>

#include "ops/admin_input.h"
#include "ops/explain_ops.h"
#include "policyctl/verbs.h"
#include "core/redis_keys.h"
#include "core/report_token.h"

namespace policyd::admin {
namespace {

std::string Text(const nlohmann::json& j, const char* name) {
  if (!j.is_object() || !j.contains(name)) return "";
  const nlohmann::json& v = j[name];
  if (v.is_string()) return v.get<std::string>();
  if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
  if (v.is_number()) return fmt::format("{:.0f}", v.get<double>());
  return v.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

uint64_t Number(const nlohmann::json& j, const char* name) {
  if (!j.is_object() || !j.contains(name) || !j[name].is_number()) return 0;
  double v = j[name].get<double>();
  return v > 0 ? static_cast<uint64_t>(v) : 0;
}

// A match fact of the script: false (no match) or the pattern that matched.
std::string Match(const nlohmann::json& facts, const char* name) {
  if (!facts.contains(name)) return "";
  const nlohmann::json& v = facts[name];
  if (v.is_string()) return "yes (" + v.get<std::string>() + ")";
  return "no";
}

// The facts decide.lua gathered, in the order it checks them; only what it reached.
std::string FactsText(const nlohmann::json& f, const Config& config) {
  std::vector<std::pair<std::string, std::string>> rows = {{"subject", Text(f, "subject")},
                                                           {"stage", Text(f, "stage")}};
  if (f.contains("block")) {
    const nlohmann::json& b = f["block"];
    std::string until = Text(b, "expires").empty() ? "until block del"
                                                    : "until " + TimeText(Text(b, "expires"));
    rows.emplace_back("block", fmt::format("{} reason={} {}", Text(b, "subject"),
                                           Text(b, "reason"), until));
  } else if (f.contains("plan") || f.contains("user")) {
    rows.emplace_back("block", "none");
  }
  if (Text(f, "user") == "unknown") {
    rows.emplace_back("user", fmt::format("unknown ([policy] unknown_user = \"{}\")",
                                          config.policy.unknown_user));
  }
  if (f.contains("plan")) {
    rows.emplace_back("account", Text(f, "account"));
    std::string plan = Text(f, "plan");
    if (f.contains("plan_unknown")) {
      plan += fmt::format(" (the stored plan '{}' is not in the configuration)",
                          Text(f, "plan_unknown"));
    }
    rows.emplace_back("plan", plan);
    std::string mode = Text(f, "mode");
    if (f.contains("mode_used") && Text(f, "mode_used") != mode) {
      mode += fmt::format(" (acts as {}: the plan does not allow any domain)",
                          Text(f, "mode_used"));
    }
    rows.emplace_back("mode", mode);
  }
  if (f.contains("verified")) rows.emplace_back("verified domain", Match(f, "verified"));
  if (f.contains("granted")) rows.emplace_back("granted", Match(f, "granted"));
  if (f.contains("acl")) rows.emplace_back("acl refusal", Text(f, "acl"));
  if (f.contains("ip_allow") && f["ip_allow"].is_object()) {
    const nlohmann::json& ip = f["ip_allow"];
    bool allowed = ip.value("allowed", false);
    rows.emplace_back("ip allow-list", fmt::format("{} ({} {})", Text(ip, "list"),
                                                   Text(ip, "client"),
                                                   allowed ? "is in it" : "is NOT in it"));
  }
  if (f.contains("quota") && f["quota"].is_array()) {
    for (const nlohmann::json& q : f["quota"]) {
      rows.emplace_back(
          "monthly quota",
          fmt::format("{} {}/{} in {}{}", Text(q, "subject"), Number(q, "used"),
                      Number(q, "quota"), Text(q, "period"),
                      q.value("unlocked", false) ? " (unlocked)" : ""));
    }
  }
  std::string text = RenderFields(rows);
  if (f.contains("limits") && f["limits"].is_array() && !f["limits"].empty()) {
    std::vector<Row> limits;
    for (const nlohmann::json& l : f["limits"]) {
      std::string metric = Text(l, "metric");
      limits.push_back({Text(l, "subject"), metric, FormatDuration(Number(l, "window") * 1000),
                        AmountText(metric, Number(l, "count")),
                        AmountText(metric, Number(l, "max")),
                        WaitText(l.contains("retry_after") ? Number(l, "retry_after") : 0)});
    }
    text += "\nwindows (before this request):\n" +
            RenderTable({"COUNTER", "METRIC", "WINDOW", "COUNT", "MAX", "ROOM"}, limits);
  }
  return text;
}

// The user's grants and its account's domains: what an ACL decision reads.
Status UserContext(VerbContext& ctx, std::string_view user, nlohmann::json* j, std::string* text) {
  std::string name(user);
  Result<RedisValue> account = ctx.session.Command({"HGET", ctx.keys.User(name), "account"});
  if (!account.ok()) return account.error();
  Result<RedisValue> grants = ctx.session.Command({"SMEMBERS", ctx.keys.Grants(name)});
  if (!grants.ok()) return grants.error();
  std::vector<std::string> g = StringsOf(*grants);
  std::sort(g.begin(), g.end());
  std::map<std::string, std::string> domains;
  std::string acct = account->AsString();
  if (IsValidAccountName(acct)) {
    Result<RedisValue> d = ctx.session.Command({"HGETALL", ctx.keys.Domains(acct)});
    if (!d.ok()) return d.error();
    domains = HashOf(*d);
  }
  (*j)["grants"] = g;
  (*j)["domains"] = domains;
  std::string grant_text, domain_text;
  for (const std::string& x : g) grant_text += (grant_text.empty() ? "" : ", ") + x;
  for (const auto& [d, state] : domains) {
    domain_text += fmt::format("{}{} ({})", domain_text.empty() ? "" : ", ", d, state);
  }
  *text += "\n" + RenderFields({{"user's grants", grant_text},
                                {fmt::format("domains of {}", acct.empty() ? "-" : acct),
                                 domain_text}});
  return Ok{};
}

}  // namespace

Status Explain(VerbContext& ctx) {
  const ParserLimits& limits = ctx.config.server.parser;
  Result<PolicyRequest> request = ctx.inv.args.empty()
                                      ? ParseExplainText(ctx.read_stdin(), limits)
                                      : ParseExplainArgs(ctx.inv.args, limits);
  if (!request.ok()) return request.error();
  // The same operation as POST /api/v1/admin/explain (lib/ops/explain_ops.h).
  Result<nlohmann::json> r = ctx.session.Run(ops::ExplainCall(ctx.config, *request));
  if (!r.ok()) return r.error();
  nlohmann::json j = std::move(*r);
  std::string reply = j["reply"], report = j["report"], action = j["action"];
  const nlohmann::json& facts = j["facts"];
  bool needs_report = action == "acl" || action == "block" || action == "ip";
  if (needs_report && report.empty()) report = "none yet: policyd makes one when it refuses";
  std::string rule = j["rule"];
  std::string text = fmt::format("action={}\n\n", reply);
  text += RenderFields({{"rule", rule}, {"report", needs_report ? report : ""}});
  if (!facts.empty()) text += "\n" + FactsText(facts, ctx.config);
  if (!request->SaslUsername().empty()) {
    if (Status s = UserContext(ctx, request->SaslUsername(), &j, &text); !s.ok()) return s;
  }
  ctx.Emit(j, text);
  if (request->State() == ProtocolState::kOther) {
    ctx.Note("note: policyd checks only protocol_state=RCPT and END-OF-MESSAGE; anything else "
             "gets DUNNO");
  }
  return Ok{};
}

}  // namespace policyd::admin
