// quota show|set|unlock: monthly quotas through the same operations as the HTTP admin API's
// /api/v1/admin/{users,accounts}/{name}/quota routes (lib/ops/quota_ops.h). These verbs only
// turn their arguments into the operation's JSON input and print its result.
#include <fmt/format.h>

#include "ops/admin_input.h"
#include "ops/quota_ops.h"
#include "policyctl/verbs.h"

namespace policyd::admin {
namespace {

// user:NAME or account:NAME as the operation's input.
Result<nlohmann::json> SubjectInput(const std::string& subject) {
  if (subject.rfind("user:", 0) == 0) return nlohmann::json{{"user", subject.substr(5)}};
  if (subject.rfind("account:", 0) == 0) return nlohmann::json{{"account", subject.substr(8)}};
  return Invalid(fmt::format("subject '{}': expected user:NAME or account:NAME", Cell(subject)));
}

Status RunQuota(VerbContext& ctx, Result<ops::AdminCall> (*op)(const Config&,
                                                                const nlohmann::json&),
                nlohmann::json input) {
  Result<ops::AdminCall> call = op(ctx.config, input);
  if (!call.ok()) return call.error();
  Result<nlohmann::json> r = ctx.session.Run(std::move(*call));
  if (!r.ok()) {
    if (r.error().code == ErrorCode::kNotFound) {
      return NotFound(fmt::format("{} not found", Cell(ctx.inv.args[0])));
    }
    if (r.error().code == ErrorCode::kConflict) {
      return NotFound(fmt::format("{} {}; set one: policyctl quota set {} MAX",
                                  Cell(ctx.inv.args[0]), r.error().message,
                                  Cell(ctx.inv.args[0])));
    }
    return r.error();
  }
  const nlohmann::json& j = *r;
  std::string quota = j["quota"].is_null() ? "none" : std::to_string(j["quota"].get<int64_t>());
  std::string warned;
  for (const auto& p : j["warned"]) {
    warned += fmt::format("{}{}%", warned.empty() ? "" : ", ", p.get<int>());
  }
  std::string state = j["locked"].get<bool>() ? "quota-locked (policyctl quota unlock)"
                      : j["unlocked"].get<bool>() ? "unlocked for the rest of the period"
                                                  : "active";
  ctx.Emit(j, RenderFields({{"subject", ctx.inv.args[0]},
                            {"period", j["period"].get<std::string>()},
                            {"quota", quota},
                            {"used", std::to_string(j["used"].get<int64_t>())},
                            {"state", state},
                            {"warnings sent", warned.empty() ? "none" : warned}}));
  return Ok{};
}

}  // namespace

Status QuotaShow(VerbContext& ctx) {
  Result<nlohmann::json> input = SubjectInput(ctx.inv.args[0]);
  if (!input.ok()) return input.error();
  return RunQuota(ctx, ops::ShowQuota, *input);
}

Status QuotaSet(VerbContext& ctx) {
  Result<nlohmann::json> input = SubjectInput(ctx.inv.args[0]);
  if (!input.ok()) return input.error();
  const std::string& max = ctx.inv.args[1];
  if (max == "none") {
    (*input)["quota"] = nullptr;
  } else {
    Result<uint64_t> n = CheckCount("MAX", max, 1'000'000'000'000);
    if (!n.ok()) return n.error();
    (*input)["quota"] = *n;
  }
  return RunQuota(ctx, ops::SetQuota, *input);
}

Status QuotaUnlock(VerbContext& ctx) {
  Result<nlohmann::json> input = SubjectInput(ctx.inv.args[0]);
  if (!input.ok()) return input.error();
  return RunQuota(ctx, ops::UnlockQuota, *input);
}

}  // namespace policyd::admin
