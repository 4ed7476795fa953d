// block add|list|show|del and signal: blocks of users and sender addresses, made by hand
// through block_add.lua or by signals through signal.lua (the same scripts the HTTP API and
// escalation use), read from PREFIXblock:{TAG}, PREFIXblockhist:{TAG}, PREFIXevidence:{TAG}.
#include <fmt/format.h>

#include "ops/admin_input.h"
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

Result<std::string> Subject(VerbContext& ctx) { return ParseBlockSubject(ctx.inv.args[0]); }

}  // namespace

Status BlockAdd(VerbContext& ctx) {
  Result<std::string> tag = Subject(ctx);
  if (!tag.ok()) return tag.error();
  Result<std::string> reason = CheckBlockReason(ctx.inv.Get("--reason"));
  if (!reason.ok()) return reason.error();
  uint64_t duration_ms = 0;
  if (ctx.inv.Has("--ttl")) {
    Result<uint64_t> ttl = CheckTtl(ctx.inv.Get("--ttl"));
    if (!ttl.ok()) return ttl.error();
    duration_ms = *ttl;
  }
  Result<std::string> evidence = CheckEvidence(ctx.inv.Get("--evidence"));
  if (!evidence.ok()) return evidence.error();
  const Config& c = ctx.config;
  std::string report = NewReportId();
  Result<RedisValue> r = ctx.session.Script(
      "block_add",
      {c.redis.key_prefix, "0", *tag, *reason, *evidence, std::to_string(duration_ms), report,
       std::to_string(c.report.ttl_ms), std::to_string(c.abuse.evidence_max),
       std::to_string(c.abuse.evidence_ttl_ms), "policyctl"});
  if (!r.ok()) return r.error();
  std::string expires = r->elements.size() == 2 ? r->elements[1].AsString() : "";
  std::string url = ReportUrl(c.report.base_url, c.report.secret, report);
  ctx.Emit({{"subject", *tag},
            {"reason", *reason},
            {"evidence", *evidence},
            {"expires", expires},
            {"report", report},
            {"report_url", url}},
           fmt::format("blocked {} ({}) until {}\nreport {}\n", Cell(*tag), *reason, Until(expires),
                       url));
  return Ok{};
}

Status BlockList(VerbContext& ctx) {
  std::string reason;
  if (ctx.inv.Has("--reason")) {
    Result<std::string> r = CheckBlockReason(ctx.inv.Get("--reason"));
    if (!r.ok()) return r.error();
    reason = *r;
  }
  Result<std::vector<std::string>> keys = ctx.session.Scan(ctx.keys.BlockPattern());
  if (!keys.ok()) return keys.error();
  nlohmann::json j = nlohmann::json::array();
  std::vector<Row> rows;
  for (const std::string& key : *keys) {
    Result<RedisValue> hash = ctx.session.Command({"HGETALL", key});
    if (!hash.ok()) return hash.error();
    auto b = HashOf(*hash);
    if (b.empty() || (!reason.empty() && b["reason"] != reason)) continue;  // expired meanwhile
    j.push_back(b);
    rows.push_back({b["subject"], b["reason"], TimeText(b["created"]), Until(b["expires"]),
                    b["source"], Shortened(b["evidence"], 60)});
  }
  ctx.Emit(j, RenderTable({"SUBJECT", "REASON", "SINCE", "UNTIL", "SOURCE", "EVIDENCE"}, rows));
  return Ok{};
}

Status BlockShow(VerbContext& ctx) {
  Result<std::string> tag = Subject(ctx);
  if (!tag.ok()) return tag.error();
  Result<RedisValue> hash = ctx.session.Command({"HGETALL", ctx.keys.Block(*tag)});
  if (!hash.ok()) return hash.error();
  auto b = HashOf(*hash);
  if (b.empty()) return NotFound(fmt::format("{} is not blocked", Cell(*tag)));
  Result<RedisValue> history = ctx.session.Command({"HGETALL", ctx.keys.BlockHistory(*tag)});
  if (!history.ok()) return history.error();
  Result<RedisValue> evidence = ctx.session.Command({"LRANGE", ctx.keys.Evidence(*tag), "0", "-1"});
  if (!evidence.ok()) return evidence.error();
  auto hist = HashOf(*history);
  std::string url = b["report"].empty()
                        ? ""
                        : ReportUrl(ctx.config.report.base_url, ctx.config.report.secret,
                                    b["report"]);
  nlohmann::json j = b;
  j["report_url"] = url;
  j["history"] = hist;
  j["evidence_entries"] = nlohmann::json::array();
  std::vector<Row> rows;
  for (const std::string& raw : StringsOf(*evidence)) {
    nlohmann::json entry;
    rows.push_back(EvidenceCells(raw, &entry));
    j["evidence_entries"].push_back(entry);
  }
  std::string text = RenderFields({{"subject", b["subject"]},
                                   {"reason", b["reason"]},
                                   {"evidence", b["evidence"]},
                                   {"since", TimeText(b["created"])},
                                   {"until", Until(b["expires"])},
                                   {"source", b["source"]},
                                   {"report", b["report"]},
                                   {"report url", url},
                                   {"blocks so far", hist["blocks"]}});
  text += "\nevidence (newest first):\n" + RenderSection({"AT", "KIND", "DETAIL"}, rows);
  ctx.Emit(j, text);
  return Ok{};
}

Status BlockDel(VerbContext& ctx) {
  Result<std::string> tag = Subject(ctx);
  if (!tag.ok()) return tag.error();
  Result<RedisValue> r = ctx.session.Command({"DEL", ctx.keys.Block(*tag)});
  if (!r.ok()) return r.error();
  if (r->AsInt() == 0) return NotFound(fmt::format("{} is not blocked", Cell(*tag)));
  ctx.Emit({{"subject", *tag}, {"deleted", true}}, fmt::format("unblocked {}\n", Cell(*tag)));
  return Ok{};
}

Status SignalVerb(VerbContext& ctx) {
  Result<Signal> signal = MakeSignal(ctx.inv.args[0], ctx.inv.args[1], ctx.inv.Get("--evidence"));
  if (!signal.ok()) return signal.error();
  Result<std::vector<SignalOutcome>> r = ctx.session.IngestSignal(*signal);
  if (!r.ok()) return r.error();
  if (r->size() != 1) return Error{ErrorCode::kInternal, "signal script: no outcome"};
  const SignalOutcome& o = r->front();
  const AbuseConfig& a = ctx.config.abuse;
  std::string text = fmt::format("signal {} for {}: score {} (blocks at {} within {})\n",
                                 signal->kind, Cell(signal->tag), o.score,
                                 a.score_threshold, FormatDuration(a.score_window_ms));
  if (!o.block_reason.empty()) {
    text += fmt::format("{} is now blocked ({}); see policyctl block show {}\n",
                        Cell(signal->tag), o.block_reason, Cell(signal->tag));
  }
  ctx.Emit({{"subject", signal->tag},
            {"kind", signal->kind},
            {"score", o.score},
            {"blocked", o.block_reason}},
           text);
  return Ok{};
}

}  // namespace policyd::admin
