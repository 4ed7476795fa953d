// The customer-facing report page (DESIGN §4): why a message was refused, for whom, since and
// until when, the evidence, what to do about it, and a "Request review" form with the
// customer's own words. Pure rendering: every value from
// Redis (ultimately from customers' mail) is HTML-escaped (core/page_template.h); the page has
// no scripts and no assets from elsewhere except the operator's own logo ([report] logo_url).
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "core/report_guidance.h"

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

// The page, from templates/page.html and the templates for the report's kind: for ACL
// reports the user's permission mode and its fix (acl_MODE.html), for blocks the kind of
// block and its steps (block_REASON.html). auth is embedded in the review form (the form
// posts id and auth back). context: branding, notice, what Redis holds today
// (core/report_guidance.h).
std::string RenderReportPage(const Report& report, std::string_view auth,
                             const ReportPageContext& context);

// A page that reveals nothing: for unknown ids, wrong auth and any other 404.
std::string RenderNotFoundPage();

}  // namespace policyd
