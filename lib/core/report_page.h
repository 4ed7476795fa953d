// The customer-facing report page (DESIGN §4): why a message was refused, for whom, since and
// until when, the evidence, and a "Request review" form. Pure rendering: every value from
// Redis (ultimately from customers' mail) is HTML-escaped here; the page has no external
// assets, scripts or styles from elsewhere.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace policyd {

struct Report {
  std::string id;
  std::map<std::string, std::string> fields;  // the pd:report:ID hash as stored
  std::vector<std::string> evidence;          // evidence entries as stored (JSON objects)
};

// A report from its stored hash (flat name/value list); the 'evidence' field (a JSON list of
// evidence entries, blocks only) becomes Report::evidence.
Report MakeReport(std::string id, const std::vector<std::string>& flat_hash);

// &, <, >, ", ' -> entities; bytes outside printable ASCII -> U+FFFD-free '?'.
std::string HtmlEscape(std::string_view text);

// "2026-11-23 00:54:58 UTC" from milliseconds since the epoch; "" for 0 or empty.
std::string FormatUtc(std::string_view epoch_ms);

// The page. auth is embedded in the review form (the form posts id and auth back).
// notice: a line shown above the report ("Review requested", "Review already requested").
std::string RenderReportPage(const Report& report, std::string_view auth, std::string_view notice);

// A page that reveals nothing: for unknown ids, wrong auth and any other 404.
std::string RenderNotFoundPage();

}  // namespace policyd
