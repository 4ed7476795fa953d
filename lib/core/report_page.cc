#include "core/report_page.h"

#include <fmt/format.h>
#include <time.h>

#include <charconv>
#include <nlohmann/json.hpp>

namespace policyd {
namespace {

constexpr std::string_view kStyle =
    "body{font-family:sans-serif;max-width:46em;margin:2em auto;padding:0 1em;color:#222}"
    "h1{font-size:1.4em}table{border-collapse:collapse;width:100%}"
    "td,th{border-bottom:1px solid #ddd;padding:.35em;text-align:left;vertical-align:top}"
    ".notice{background:#eef6ee;padding:.6em;border-left:4px solid #4a4}"
    "button{font-size:1em;padding:.4em 1em}";

std::string Field(const Report& r, const char* name) {
  auto it = r.fields.find(name);
  return it == r.fields.end() ? std::string() : it->second;
}

std::string Row(std::string_view label, std::string_view value) {
  return fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", label, HtmlEscape(value));
}

// One evidence entry: a JSON object from the scripts; shown as "time kind detail (facts)".
std::string EvidenceRow(const std::string& raw) {
  nlohmann::json e = nlohmann::json::parse(raw, nullptr, false);
  if (!e.is_object()) return fmt::format("<tr><td colspan=3>{}</td></tr>\n", HtmlEscape(raw));
  auto str = [&](const char* k) -> std::string {
    if (!e.contains(k)) return "";
    const auto& v = e[k];
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number()) return fmt::format("{:.0f}", v.get<double>());
    return v.dump();
  };
  std::string facts;
  for (const char* k : {"sender", "recipient", "client", "queue_id", "source"}) {
    std::string v = str(k);
    if (!v.empty()) facts += fmt::format("{}{}={}", facts.empty() ? "" : ", ", k, v);
  }
  return fmt::format("<tr><td>{}</td><td>{}</td><td>{}<br><small>{}</small></td></tr>\n",
                     HtmlEscape(FormatUtc(str("at"))), HtmlEscape(str("kind")),
                     HtmlEscape(str("detail")), HtmlEscape(facts));
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
  for (unsigned char c : text) {
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

std::string RenderReportPage(const Report& r, std::string_view auth, std::string_view notice) {
  std::string kind = Field(r, "kind");
  std::string title = kind == "acl"  ? "Message refused: sender domain not permitted"
                      : kind == "ip" ? "Message refused: client address not permitted"
                                     : "Sender blocked: spam or abuse detected";
  std::string expires = Field(r, "expires");
  std::string review = Field(r, "review");
  std::string body;
  body += fmt::format("<h1>{}</h1>\n", HtmlEscape(title));
  if (!notice.empty()) body += fmt::format("<p class=notice>{}</p>\n", HtmlEscape(notice));
  body += "<table>\n";
  body += Row("Report", r.id);
  body += Row("Reason", Field(r, "reason"));
  body += Row("Subject", Field(r, "subject"));
  if (!Field(r, "domain").empty()) body += Row("Sender domain", Field(r, "domain"));
  if (!Field(r, "sender").empty()) body += Row("Sender", Field(r, "sender"));
  if (!Field(r, "detail").empty()) body += Row("Details", Field(r, "detail"));
  body += Row("Time", FormatUtc(Field(r, "created")));
  if (kind != "acl" && kind != "ip") {
    body += Row("Expires", expires.empty() ? "not before a review" : FormatUtc(expires));
  }
  body += Row("Review", review == "requested"  ? "requested"
                       : review == "resolved" ? "resolved: " + Field(r, "review_note")
                                              : "not requested");
  body += "</table>\n<h2>Evidence</h2>\n";
  if (r.evidence.empty()) {
    body += "<p>No further evidence recorded.</p>\n";
  } else {
    body += "<table>\n<tr><th>Time</th><th>Kind</th><th>Detail</th></tr>\n";
    for (const std::string& e : r.evidence) body += EvidenceRow(e);
    body += "</table>\n";
  }
  if (review == "requested") {
    body += "<p>A review has been requested. Our team will look at it.</p>\n";
  } else {
    body += fmt::format(
        "<form method=post action=\"\">\n<input type=hidden name=id value=\"{}\">\n"
        "<input type=hidden name=auth value=\"{}\">\n"
        "<p><button type=submit name=action value=review>Request review</button></p>\n</form>\n",
        HtmlEscape(r.id), HtmlEscape(auth));
  }
  return fmt::format(
      "<!doctype html>\n<html lang=en><head><meta charset=utf-8>"
      "<meta name=viewport content=\"width=device-width\"><title>{}</title>"
      "<style>{}</style></head>\n<body>\n{}</body></html>\n",
      HtmlEscape(title), kStyle, body);
}

std::string RenderNotFoundPage() {
  return "<!doctype html>\n<html lang=en><head><meta charset=utf-8><title>Not found</title></head>"
         "<body><h1>Not found</h1></body></html>\n";
}

}  // namespace policyd
