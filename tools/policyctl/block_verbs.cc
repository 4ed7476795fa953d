// block add|list|show|del and signal: blocks of users and sender addresses, made by hand
// through block_add.lua or by signals through signal.lua (the same scripts the HTTP API and
// escalation use). add, list, show and del run lib/ops/block_ops.h's operations, the same as
// the admin API's /api/v1/admin/blocks routes.
#include <fmt/format.h>

#include <map>

#include "ops/admin_input.h"
#include "ops/block_ops.h"
#include "policyctl/verbs.h"
#include "core/redis_keys.h"
#include "core/report_token.h"
#include "core/signals.h"

namespace policyd::admin {
namespace {

// A block's end for a table cell; "until " + this reads as a sentence.
std::string Until(const std::string& expires) {
  return expires.empty() ? "block del" : TimeText(expires);
}

// A long text cut for a table cell; block show prints it whole.
std::string Shortened(const std::string& s, std::size_t max) {
  return s.size() <= max ? s : s.substr(0, max - 3) + "...";
}

// Runs a block operation (lib/ops/block_ops.h, the admin API's /api/v1/admin/blocks routes).
Status RunBlockOp(VerbContext& ctx, Result<ops::AdminCall> call, nlohmann::json* out) {
  if (!call.ok()) return call.error();
  Result<nlohmann::json> r = ctx.session.Run(std::move(*call));
  if (!r.ok()) {
    if (r.error().code == ErrorCode::kNotFound) {
      Result<std::string> tag = ParseBlockSubject(ctx.inv.args[0]);
      return NotFound(fmt::format("{} is not blocked", Cell(tag.ok() ? *tag : ctx.inv.args[0])));
    }
    return r.error();
  }
  *out = std::move(*r);
  return Ok{};
}

}  // namespace

Status BlockAdd(VerbContext& ctx) {
  nlohmann::json input = {{"subject", ctx.inv.args[0]}, {"reason", ctx.inv.Get("--reason")},
                          {"evidence", ctx.inv.Get("--evidence")}};
  if (ctx.inv.Has("--ttl")) input["ttl"] = ctx.inv.Get("--ttl");
  nlohmann::json j;
  if (Status s = RunBlockOp(ctx, ops::AddBlock(ctx.config, input, "policyctl"), &j); !s.ok()) {
    return s;
  }
  ctx.Emit(j, fmt::format("blocked {} ({}) until {}\nreport {}\n",
                          Cell(j["subject"].get<std::string>()), j["reason"].get<std::string>(),
                          Until(j["expires"].get<std::string>()),
                          j["report_url"].get<std::string>()));
  return Ok{};
}

Status BlockList(VerbContext& ctx) {
  // Every page of the admin API's GET /api/v1/admin/blocks, sorted by subject.
  nlohmann::json input = nlohmann::json::object();
  if (ctx.inv.Has("--reason")) input["reason"] = ctx.inv.Get("--reason");
  std::map<std::string, nlohmann::json> sorted;
  std::string cursor = "0";
  do {
    input["cursor"] = cursor;
    input["count"] = "1000";
    nlohmann::json page;
    if (Status s = RunBlockOp(ctx, ops::ListBlocks(ctx.config, input), &page); !s.ok()) return s;
    for (const nlohmann::json& b : page["blocks"]) sorted[b.value("subject", "")] = b;
    cursor = page["next_cursor"].get<std::string>();
  } while (cursor != "0");
  nlohmann::json j = nlohmann::json::array();
  std::vector<Row> rows;
  for (const auto& [subject, b] : sorted) {
    j.push_back(b);
    auto f = [&b](const char* name) { return b.value(name, std::string()); };
    rows.push_back({f("subject"), f("reason"), TimeText(f("created")), Until(f("expires")),
                    f("source"), Shortened(f("evidence"), 60)});
  }
  ctx.Emit(j, RenderTable({"SUBJECT", "REASON", "SINCE", "UNTIL", "SOURCE", "EVIDENCE"}, rows));
  return Ok{};
}

Status BlockShow(VerbContext& ctx) {
  nlohmann::json j;
  if (Status s = RunBlockOp(ctx, ops::ShowBlock(ctx.config, {{"subject", ctx.inv.args[0]}}), &j);
      !s.ok()) {
    return s;
  }
  auto text_of = [&j](const char* name) { return j.value(name, std::string()); };
  std::vector<Row> rows;
  for (const nlohmann::json& entry : j["evidence_entries"]) {
    nlohmann::json parsed;
    rows.push_back(EvidenceCells(entry.is_string() ? entry.get<std::string>() : entry.dump(),
                                 &parsed));
  }
  std::string text = RenderFields({{"subject", text_of("subject")},
                                   {"reason", text_of("reason")},
                                   {"evidence", text_of("evidence")},
                                   {"since", TimeText(text_of("created"))},
                                   {"until", Until(text_of("expires"))},
                                   {"source", text_of("source")},
                                   {"report", text_of("report")},
                                   {"report url", text_of("report_url")},
                                   {"blocks so far", j["history"].value("blocks", "")}});
  text += "\nevidence (newest first):\n" + RenderSection({"AT", "KIND", "DETAIL"}, rows);
  ctx.Emit(j, text);
  return Ok{};
}

Status BlockDel(VerbContext& ctx) {
  nlohmann::json j;
  if (Status s = RunBlockOp(ctx, ops::LiftBlock(ctx.config, {{"subject", ctx.inv.args[0]}},
                                                 "policyctl"),
                            &j);
      !s.ok()) {
    return s;
  }
  ctx.Emit({{"subject", j["subject"]}, {"deleted", true}},
           fmt::format("unblocked {}\n", Cell(j["subject"].get<std::string>())));
  return Ok{};
}

Status SignalVerb(VerbContext& ctx) {
  Result<Signal> signal = MakeSignal(ctx.inv.args[0], ctx.inv.args[1], ctx.inv.Get("--evidence"),
                                     ctx.inv.Get("--id"));
  if (!signal.ok()) return signal.error();
  Result<std::vector<SignalOutcome>> r = ctx.session.IngestSignal(*signal);
  if (!r.ok()) return r.error();
  if (r->size() != 1) return Error{ErrorCode::kInternal, "signal script: no outcome"};
  const SignalOutcome& o = r->front();
  const AbuseConfig& a = ctx.config.abuse;
  std::string text;
  if (o.outcome == "duplicate") {
    text = fmt::format("signal {} for {}: this feedback id was already counted\n", signal->kind,
                       Cell(signal->tag));
  } else if (!o.rate_text.empty()) {
    text = fmt::format("signal {} for {}: {}{}\n", signal->kind, Cell(signal->tag), o.rate_text,
                       o.outcome == "warned" ? " (above the warn level)" : "");
  } else {
    text = fmt::format("signal {} for {}: score {} (blocks at {} within {})\n", signal->kind,
                       Cell(signal->tag), o.score, a.score_threshold,
                       FormatDuration(a.score_window_ms));
  }
  if (!o.block_reason.empty()) {
    text += fmt::format("{} is now blocked ({}); see policyctl block show {}\n",
                        Cell(signal->tag), o.block_reason, Cell(signal->tag));
  }
  ctx.Emit({{"subject", signal->tag},
            {"kind", signal->kind},
            {"score", o.score},
            {"blocked", o.block_reason},
            {"rate", o.rate_text},
            {"outcome", o.outcome}},
           text);
  return Ok{};
}

}  // namespace policyd::admin
