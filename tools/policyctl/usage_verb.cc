// usage SUBJECT: each limit that applies to a subject, its sliding window's count now, the
// maximum, and when capacity returns; read by usage.lua with decide.lua's own window code.
#include <fmt/format.h>

#include "ops/admin_input.h"
#include "ops/quota_ops.h"
#include "policyctl/usage_read.h"
#include "policyctl/verbs.h"
#include "core/redis_keys.h"

namespace policyd::admin {
namespace {

// Which limit kinds a subject's usage shows: a user's request is checked against all four
// (sender and ip ones need --sender and --ip for a count); other subjects only their own kind.
bool Shown(SubjectKind subject, const std::string& limit_kind) {
  return subject == SubjectKind::kUser || SubjectKindName(subject) == limit_kind;
}

}  // namespace

Status Usage(VerbContext& ctx) {
  Result<UsageSubject> subject = ParseUsageSubject(ctx.inv.args[0]);
  if (!subject.ok()) return subject.error();
  std::string plan;
  if (ctx.inv.Has("--plan")) {
    Result<std::string> p = CheckPlan(ctx.config, ctx.inv.Get("--plan"));
    if (!p.ok()) return p.error();
    plan = *p;
  }
  UsageTags tags;
  for (const char* option : {"--sender", "--ip"}) {
    if (ctx.inv.Has(option) && subject->kind != SubjectKind::kUser) {
      return Invalid(fmt::format("{} goes with a user:NAME subject, not '{}'", option,
                                 Cell(ctx.inv.args[0])));
    }
  }
  if (ctx.inv.Has("--sender")) {
    Result<std::string> s = ParseBlockSubject("sender:" + ctx.inv.Get("--sender"));
    if (!s.ok()) return s.error();
    tags.sender = *s;
  }
  if (ctx.inv.Has("--ip")) {
    Result<UsageSubject> ip = ParseUsageSubject("ip:" + ctx.inv.Get("--ip"));
    if (!ip.ok()) return ip.error();
    tags.ip = ip->tag;
  }
  switch (subject->kind) {
    case SubjectKind::kUser: tags.user = subject->tag; break;
    case SubjectKind::kAccount: tags.account = subject->tag; break;
    case SubjectKind::kSender: tags.sender = subject->tag; break;
    case SubjectKind::kIp: tags.ip = subject->tag; break;
  }
  Result<UsageData> usage = ReadUsage(ctx.session, tags, plan);
  if (!usage.ok()) return usage.error();
  if (!usage->known) return NotFound(fmt::format("{} not found", Cell(subject->tag)));

  nlohmann::json j = {{"subject", subject->tag},
                      {"plan", usage->plan},
                      {"account", usage->account},
                      {"limits", nlohmann::json::array()}};
  std::vector<Row> rows;
  bool uncounted = false;
  for (const LimitState& l : usage->limits) {
    if (!Shown(subject->kind, l.kind)) continue;
    bool counted = l.count >= 0;
    uncounted = uncounted || !counted;
    j["limits"].push_back({{"subject", l.kind},
                           {"counter", l.tag},
                           {"metric", l.metric},
                           {"window_s", l.window_s},
                           {"max", l.max},
                           {"count", counted ? nlohmann::json(l.count) : nlohmann::json()},
                           {"retry_after_s",
                            counted ? nlohmann::json(l.retry_after) : nlohmann::json()},
                           {"override", l.override}});
    rows.push_back({fmt::format("{} {}{}", l.kind, l.metric, l.override ? " (override)" : ""),
                    l.tag, FormatDuration(l.window_s * 1000),
                    counted ? AmountText(l.metric, static_cast<uint64_t>(l.count)) : "",
                    AmountText(l.metric, l.max),
                    counted ? WaitText(static_cast<uint64_t>(l.retry_after)) : ""});
  }
  std::string text = RenderFields({{"subject", subject->tag},
                                   {"plan", usage->plan},
                                   {"account", usage->account}});
  // Two appends, not "\n" + ...: GCC 12 at -O2/-O3 reports a false -Wrestrict on the latter.
  text += '\n';
  text += RenderSection({"LIMIT", "COUNTER", "WINDOW", "COUNT", "MAX", "ROOM"}, rows);
  // The monthly quota beside the windows (issue 19): the same operation as quota show.
  if (subject->kind == SubjectKind::kUser || subject->kind == SubjectKind::kAccount) {
    nlohmann::json input = subject->kind == SubjectKind::kUser
                               ? nlohmann::json{{"user", subject->name}}
                               : nlohmann::json{{"account", subject->name}};
    Result<ops::AdminCall> call = ops::ShowQuota(ctx.config, input);
    if (!call.ok()) return call.error();
    Result<nlohmann::json> q = ctx.session.Run(std::move(*call));
    if (!q.ok()) return q.error();
    j["quota"] = *q;
    if (!(*q)["quota"].is_null()) {
      text += fmt::format("\nmonthly quota ({}): {}/{} messages{}\n",
                          (*q)["period"].get<std::string>(), (*q)["used"].get<int64_t>(),
                          (*q)["quota"].get<int64_t>(),
                          (*q)["locked"].get<bool>()     ? ", quota-locked"
                          : (*q)["unlocked"].get<bool>() ? ", unlocked"
                                                         : "");
    }
  }
  ctx.Emit(j, text);
  if (uncounted) {
    ctx.Note("note: sender and ip limits count per envelope sender and client address; give "
             "--sender ADDRESS or --ip ADDRESS to see those counters");
  }
  return Ok{};
}

}  // namespace policyd::admin
