// usage SUBJECT: each limit that applies to a subject, its sliding window's count now, the
// maximum, and when capacity returns; read by usage.lua with decide.lua's own window code.
#include <fmt/format.h>

#include "ops/admin_input.h"
#include "ops/quota_ops.h"
#include "ops/usage_ops.h"
#include "policyctl/usage_read.h"
#include "policyctl/verbs.h"
#include "core/redis_keys.h"

namespace policyd::admin {

Status Usage(VerbContext& ctx) {
  // The same operation as GET /api/v1/admin/usage/{subject} (lib/ops/usage_ops.h).
  Result<UsageSubject> subject = ParseUsageSubject(ctx.inv.args[0]);
  if (!subject.ok()) return subject.error();
  nlohmann::json input = {{"subject", ctx.inv.args[0]}};
  if (ctx.inv.Has("--plan")) input["plan"] = ctx.inv.Get("--plan");
  for (const char* option : {"--sender", "--ip"}) {
    if (!ctx.inv.Has(option)) continue;
    if (subject->kind != SubjectKind::kUser) {
      return Invalid(fmt::format("{} goes with a user:NAME subject, not '{}'", option,
                                 Cell(ctx.inv.args[0])));
    }
    input[option + 2] = ctx.inv.Get(option);
  }
  Result<ops::AdminCall> call = ops::ShowUsage(ctx.config, input);
  if (!call.ok()) return call.error();
  Result<nlohmann::json> r = ctx.session.Run(std::move(*call));
  if (!r.ok()) {
    if (r.error().code == ErrorCode::kNotFound) {
      return NotFound(fmt::format("{} not found", Cell(subject->tag)));
    }
    return r.error();
  }
  nlohmann::json j = std::move(*r);
  std::vector<Row> rows;
  bool uncounted = false;
  for (const nlohmann::json& l : j["limits"]) {
    std::string kind = l["subject"], metric = l["metric"], counter = l["counter"];
    bool counted = !l["count"].is_null();
    uncounted = uncounted || !counted;
    uint64_t window_s = l["window_s"], max = l["max"];
    rows.push_back({fmt::format("{} {}{}", kind, metric,
                                l["override"].get<bool>() ? " (override)" : ""),
                    counter, FormatDuration(window_s * 1000),
                    counted ? AmountText(metric, l["count"].get<uint64_t>()) : "",
                    AmountText(metric, max),
                    counted ? WaitText(l["retry_after_s"].get<uint64_t>()) : ""});
  }
  std::string plan = j["plan"], account = j["account"];
  std::string text = RenderFields({{"subject", subject->tag},
                                   {"plan", plan},
                                   {"account", account}});
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
