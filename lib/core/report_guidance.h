// What the report page (report_page.h) needs beyond the report hash to tell a customer what to
// do: the operator's branding, the [abuse] escalation terms, the plan's allow_any_domain today
// and, for ACL reports, the account's domains and the user's grants today (read by
// ReportStore::GetAclToday). Also the pure pieces that turn stored facts into plain words:
// the rate evidence, durations and counts, and the customer's review text.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/page_template.h"

namespace policyd {

struct Report;

// Longest review text a customer may send, in characters (UTF-8 code points).
inline constexpr std::size_t kMaxReviewTextChars = 2000;

// The account's domains and the user's grants as Redis holds them when the page is shown.
struct AclToday {
  std::map<std::string, std::string> account_domains;  // domain -> state ("verified", ...)
  std::vector<std::string> grants;                     // the user's grants, "*.x" included
};

struct ReportPageContext {
  std::string relay_name;
  std::string support_url;  // "" = none; shown only when it is a safe URL
  std::string logo_url;
  bool plan_any = false;  // the report's plan allows any domain (config today)
  uint64_t memory_ms = 0, max_block_ms = 0;
  double escalate = 1;
  AclToday acl;
  // The notice above the report: "", "requested", "already", "too_long" or "bad_text"
  // (sections of templates/notice.html); the text to show again in the form after a refused
  // submit, and its length for "too_long".
  std::string notice;
  std::string text;
  std::size_t text_chars = 0;
};

// Branding, abuse terms and plan_any from config for this report.
ReportPageContext PageContextFor(const Config& config, const Report& report);

// The report's domain on the account today: nullopt when the account has neither it nor a
// pattern covering it; else its state ("verified", ...). Same candidates as decide.lua.
std::optional<std::string> DomainState(const AclToday& today, std::string_view domain);

// The domains the user may send from today, sorted: for "account", the account's verified
// domains; for "explicit", the user's grants that are verified on the account. Other modes: {}.
std::vector<std::string> PermittedDomains(const AclToday& today, std::string_view mode);

// The newest throttle's facts from evidence, parsed from its detail
// ("messages 1000/500 per 3600s (user)...", written by decide.lua and record_throttles.lua).
struct RateFacts {
  std::string metric;
  uint64_t count = 0, max = 0, window_ms = 0;
};
std::optional<RateFacts> NewestRateFacts(const std::vector<std::string>& evidence);

// "1,000" for 1000.
std::string FormatCount(uint64_t n);

// templates/duration.html for ms in its largest whole unit: "1 hour", "10 minutes", "2 days";
// bare: "hour" for exactly one ("in the last hour").
Markup DurationText(uint64_t ms, bool bare);

// The customer's review text, checked: CRLF and CR become LF, surrounding blank space goes;
// invalid UTF-8 or a control character other than LF and TAB is "bad_text"; more than
// kMaxReviewTextChars characters is "too_long". error is "" when text is fine.
struct ReviewText {
  std::string text;
  std::string error;
  std::size_t chars = 0;
};
ReviewText CheckReviewText(std::string_view raw);

// The first chars characters (code points) of valid UTF-8 text.
std::string Utf8Prefix(std::string_view text, std::size_t chars);

}  // namespace policyd
