// report show and review list: the reports behind ACL refusals and blocks, and the reviews
// customers asked for on the report page, read through ReportStore like the HTTP side.
#include <fmt/format.h>

#include "ops/admin_input.h"
#include "ops/review_ops.h"
#include "policyctl/verbs.h"
#include "core/report_token.h"

namespace policyd::admin {
namespace {

constexpr uint64_t kMaxReviews = 10000;  // review.lua keeps the newest 10,000

std::string Field(const Report& r, const char* name) {
  auto it = r.fields.find(name);
  return it == r.fields.end() ? std::string() : it->second;
}

std::string Url(const VerbContext& ctx, const std::string& id) {
  return ReportUrl(ctx.config.report.base_url, ctx.config.report.secret, id);
}

// The customer's review text in a table cell: its first 60 bytes, lines joined with " / "
// (Cell() then makes anything unprintable visible); the full text is in --json and report show.
std::string Excerpt(const std::string& text) {
  std::string one_line;
  for (char c : text) one_line += c == '\n' ? std::string(" / ") : std::string(1, c);
  if (one_line.size() <= 60) return one_line;
  std::size_t cut = 57;
  while (cut > 0 && (static_cast<unsigned char>(one_line[cut]) & 0xc0) == 0x80) --cut;
  return one_line.substr(0, cut) + "...";
}

}  // namespace

Status ReportShow(VerbContext& ctx) {
  Result<std::string> id = CheckReportId(ctx.inv.args[0]);
  if (!id.ok()) return id.error();
  Result<std::optional<Report>> r = ctx.session.GetReport(*id);
  if (!r.ok()) return r.error();
  if (!r->has_value()) {
    return NotFound(fmt::format("report {} not found (it expired, or was never made)", *id));
  }
  const Report& report = **r;
  nlohmann::json j = {{"id", report.id}, {"url", Url(ctx, report.id)}};
  for (const auto& [name, value] : report.fields) {
    if (name != "evidence") j[name] = value;
  }
  j["evidence"] = nlohmann::json::array();
  std::vector<Row> rows;
  for (const std::string& raw : report.evidence) {
    nlohmann::json entry;
    rows.push_back(EvidenceCells(raw, &entry));
    j["evidence"].push_back(entry);
  }
  std::string review = Field(report, "review");
  if (!Field(report, "review_at").empty()) {
    review += " at " + TimeText(Field(report, "review_at"));
  }
  std::string expires = Field(report, "expires");
  std::string text = RenderFields({{"report", report.id},
                                   {"kind", Field(report, "kind")},
                                   {"subject", Field(report, "subject")},
                                   {"reason", Field(report, "reason")},
                                   {"detail", Field(report, "detail")},
                                   {"domain", Field(report, "domain")},
                                   {"sender", Field(report, "sender")},
                                   {"client", Field(report, "client")},
                                   {"queue id", Field(report, "queue_id")},
                                   {"created", TimeText(Field(report, "created"))},
                                   {"expires", expires.empty() ? "" : TimeText(expires)},
                                   {"source", Field(report, "source")},
                                   {"review", review},
                                   {"review text", Field(report, "review_text")},
                                   {"url", Url(ctx, report.id)}});
  if (!rows.empty()) {
    text += "\nevidence (newest first):\n" + RenderTable({"AT", "KIND", "DETAIL"}, rows);
  }
  ctx.Emit(j, text);
  return Ok{};
}

// review list and review resolve run lib/ops/review_ops.h's operations, the same as the
// admin API's /api/v1/admin/reviews routes.
Status ReviewList(VerbContext& ctx) {
  nlohmann::json input = nlohmann::json::object();
  if (ctx.inv.Has("--limit")) {
    Result<uint64_t> n = CheckCount("--limit", ctx.inv.Get("--limit"), kMaxReviews);
    if (!n.ok()) return n.error();
    input["limit"] = std::to_string(*n);
  }
  Result<ops::AdminCall> call = ops::ListReviews(ctx.config, input);
  if (!call.ok()) return call.error();
  Result<nlohmann::json> r = ctx.session.Run(std::move(*call));
  if (!r.ok()) return r.error();
  std::vector<Row> rows;
  for (const nlohmann::json& v : (*r)["reviews"]) {
    auto f = [&v](const char* name) { return v.value(name, std::string()); };
    rows.push_back({f("id"), TimeText(f("requested")), f("kind"), f("subject"), f("reason"),
                    Excerpt(f("text"))});
  }
  ctx.Emit((*r)["reviews"],
           RenderTable({"REPORT", "REQUESTED", "KIND", "SUBJECT", "REASON", "TEXT"}, rows));
  return Ok{};
}

Status ReviewResolve(VerbContext& ctx) {
  Result<ops::AdminCall> call = ops::ResolveReview(
      ctx.config, {{"id", ctx.inv.args[0]}, {"note", ctx.inv.Get("--note")}}, "policyctl");
  if (!call.ok()) return call.error();
  Result<nlohmann::json> r = ctx.session.Run(std::move(*call));
  if (!r.ok()) {
    if (r.error().code == ErrorCode::kNotFound) {
      return NotFound(fmt::format("report {} not found (expired or never made)",
                                  Cell(ctx.inv.args[0])));
    }
    if (r.error().code == ErrorCode::kConflict) {
      return NotFound(fmt::format("report {}: {}", Cell(ctx.inv.args[0]), r.error().message));
    }
    return r.error();
  }
  ctx.Emit(*r, fmt::format("review of report {} resolved; the report page shows your note\n",
                           (*r)["id"].get<std::string>()));
  return Ok{};
}

}  // namespace policyd::admin
