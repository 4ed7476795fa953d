#include "core/report_page.h"

#include <fmt/format.h>
#include <time.h>

#include <charconv>
#include <nlohmann/json.hpp>

#include "core/page_template.h"

namespace policyd {
namespace {

std::string Field(const Report& r, const char* name) {
  auto it = r.fields.find(name);
  return it == r.fields.end() ? std::string() : it->second;
}

// One evidence entry: a JSON object from the scripts; shown as "time kind detail (facts)".
Markup EvidenceRow(const std::string& raw) {
  TemplateValues v;
  nlohmann::json e = nlohmann::json::parse(raw, nullptr, false);
  if (!e.is_object()) return RenderPage("evidence_row", v.Text("detail", raw));
  auto str = [&](const char* k) -> std::string {
    if (!e.contains(k)) return "";
    const auto& value = e[k];
    if (value.is_string()) return value.get<std::string>();
    if (value.is_number()) return fmt::format("{:.0f}", value.get<double>());
    return value.dump();
  };
  std::string facts;
  for (const char* k : {"sender", "recipient", "client", "queue_id", "source"}) {
    std::string value = str(k);
    if (!value.empty()) facts += fmt::format("{}{}={}", facts.empty() ? "" : ", ", k, value);
  }
  std::string detail = str("detail");
  std::string rate = str("rate");  // complaints and bounces: the rate after this one
  if (!rate.empty()) detail += detail.empty() ? rate : "; " + rate;
  v.Text("at", FormatUtc(str("at"))).Text("kind", str("kind")).Text("detail", detail);
  return RenderPage("evidence_row", v.Text("facts", facts));
}

// The ACL part: the sender domain on the account today, the user's mode in the customer's
// terms, the fix for that mode and the domains the user may send from today.
Markup AclBody(const Report& r, const ReportPageContext& c) {
  std::string mode = Field(r, "mode"), domain = Field(r, "domain");
  if (mode != "account" && mode != "any" && mode != "unknown") mode = "explicit";
  bool wanted_any = mode == "any" && !c.plan_any;
  std::string mode_used = wanted_any ? "account" : mode;
  std::optional<std::string> state = DomainState(c.acl, domain);
  std::string subject = Field(r, "subject");
  TemplateValues v;
  v.Text("sender", Field(r, "sender")).Text("domain", domain).Text("account", Field(r, "account"))
      .Text("user", subject.starts_with("user:") ? subject.substr(5) : subject)
      .Text("plan", Field(r, "plan")).Text("reason", Field(r, "reason"))
      .Text("created", FormatUtc(Field(r, "created")))
      .Flag("on_account", state.has_value()).Flag("verified", state == "verified")
      .Flag("mode_" + mode, true).Flag("plan_any", c.plan_any).Flag("wanted_any", wanted_any)
      .Flag("any_domain", mode_used == "any");
  std::vector<Markup> items;
  for (const std::string& d : PermittedDomains(c.acl, mode_used)) {
    items.push_back(RenderPage("domain_item", TemplateValues().Text("domain", d)));
  }
  v.HtmlList("permitted", items);
  std::string guidance = mode == "unknown" ? "acl_unknown"
                         : domain.empty()  ? "acl_no_domain"
                                           : "acl_" + mode_used;
  v.Html("guidance", RenderPage(guidance, v));
  return RenderPage("acl", v);
}

// The block part: the kind of block, the rate in plain words, when it ends, what continued
// sending does, the steps for that kind and the evidence.
Markup BlockBody(const Report& r, const ReportPageContext& c) {
  std::string reason = Field(r, "reason");
  if (reason != "spam" && reason != "abuse" && reason != "rate") reason = "manual";
  std::string expires = FormatUtc(Field(r, "expires"));
  TemplateValues v;
  v.Text("subject", Field(r, "subject")).Text("detail", Field(r, "detail"))
      .Text("created", FormatUtc(Field(r, "created"))).Text("expires", expires)
      .Flag("reason_" + reason, true).Url("support_url", c.support_url, true);
  if (reason == "rate") {
    if (std::optional<RateFacts> rate = NewestRateFacts(r.evidence)) {
      v.Text("rate_count", FormatCount(rate->count)).Text("rate_max", FormatCount(rate->max))
          .Text("rate_metric", rate->metric).Html("rate_window", DurationText(rate->window_ms, true));
    }
  }
  // Blocks the scripts make (escalation, signals; _common.lua escalate_block marks their
  // report) escalate when they repeat; a block set by hand does not.
  bool escalates = Field(r, "escalates") == "1" && c.escalate > 1 && c.memory_ms > 0;
  v.Flag("escalates", escalates).Text("escalate", fmt::format("{:g}", c.escalate))
      .Html("memory", DurationText(c.memory_ms, false))
      .Html("max_block", DurationText(c.max_block_ms, false));
  v.Html("continued", RenderPage("block_continued", v));
  v.Html("guidance", RenderPage("block_" + reason, v));
  std::vector<Markup> rows;
  for (const std::string& e : r.evidence) rows.push_back(EvidenceRow(e));
  v.HtmlList("evidence", rows);
  return RenderPage("block", v);
}

// The IP allow-list part (issue 19): the client address the user may not send from.
Markup IpBody(const Report& r, const ReportPageContext& c) {
  std::string subject = Field(r, "subject");
  TemplateValues v;
  v.Text("sender", Field(r, "sender")).Text("client", Field(r, "client"))
      .Text("user", subject.starts_with("user:") ? subject.substr(5) : subject)
      .Text("detail", Field(r, "reason")).Text("created", FormatUtc(Field(r, "created")))
      .Url("support_url", c.support_url, true);
  return RenderPage("ip", v);
}

Markup ReviewPart(const Report& r, std::string_view auth, const ReportPageContext& c) {
  TemplateValues v;
  v.Flag("resolved", Field(r, "review") == "resolved")
      .Text("review_note", Field(r, "review_note"))
      .Flag("pending", Field(r, "review") == "requested")
      .Text("review_at", FormatUtc(Field(r, "review_at")))
      .Text("review_text", Field(r, "review_text")).Text("id", r.id).Text("auth", auth)
      .Text("max", std::to_string(kMaxReviewTextChars)).Text("text", c.text);
  return RenderPage("review", v);
}

}  // namespace

Report MakeReport(std::string id, const std::vector<std::string>& flat) {
  Report r;
  r.id = std::move(id);
  for (std::size_t i = 0; i + 1 < flat.size(); i += 2) r.fields[flat[i]] = flat[i + 1];
  auto it = r.fields.find("evidence");
  if (it != r.fields.end()) {
    nlohmann::json list = nlohmann::json::parse(it->second, nullptr, false);
    if (list.is_array()) {
      for (const auto& e : list) {
        if (e.is_string()) r.evidence.push_back(e.get<std::string>());
      }
    }
  }
  return r;
}

std::string HtmlEscape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (std::size_t i = 0; i < text.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(text[i]);
    // The em dash of rate texts ("complaint rate 0.6 % \u2014 6 complaints in ..."), the one
    // non-ASCII character the scripts write; every other byte outside ASCII stays '?'.
    if (text.substr(i, 3) == "\xe2\x80\x94") {
      out += "&mdash;";
      i += 2;
      continue;
    }
    switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
    }
  }
  return out;
}

std::string FormatUtc(std::string_view epoch_ms) {
  int64_t ms = 0;
  std::from_chars(epoch_ms.data(), epoch_ms.data() + epoch_ms.size(), ms);
  if (ms <= 0) return "";
  time_t secs = static_cast<time_t>(ms / 1000);
  tm parts;
  gmtime_r(&secs, &parts);
  char buf[40];
  strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%S UTC", &parts);
  return buf;
}

std::string RenderReportPage(const Report& r, std::string_view auth,
                             const ReportPageContext& c) {
  std::string kind = Field(r, "kind");
  bool acl = kind == "acl", ip = kind == "ip";
  TemplateValues notice;
  notice.Flag(c.notice, !c.notice.empty())
      .Text("length", FormatCount(c.text_chars))
      .Text("max", FormatCount(kMaxReviewTextChars));
  TemplateValues v;
  v.Flag("acl", acl).Flag("ip", ip).Flag("block", !acl && !ip).Text("id", r.id).Text("relay_name", c.relay_name)
      .Url("support_url", c.support_url, true)
      .Url("logo_url", UrlOrigin(c.logo_url).empty() ? "" : c.logo_url)
      .Html("notice", c.notice.empty() ? Markup() : RenderPage("notice", notice))
      .Html("body", acl ? AclBody(r, c) : ip ? IpBody(r, c) : BlockBody(r, c))
      .Html("review", ReviewPart(r, auth, c));
  return RenderPage("page", v).str();
}

std::string RenderNotFoundPage() { return RenderPage("not_found", TemplateValues()).str(); }

}  // namespace policyd
