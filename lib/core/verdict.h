// The outcome of one decision (DESIGN §3) as a value, and its reply text. The store's Lua
// script produces the facts; FormatVerdict turns them into Postfix's action text using the
// [messages] templates, so the wording lives in config and the sanitising in reply_template.
#pragma once

#include <cstdint>
#include <string>

#include "core/config.h"

namespace policyd {

enum class Action {
  kDunno,      // no objection
  kAclReject,  // 550 [ACL]: sender domain not allowed for this SMTP user (or unknown user)
  kBlocked,    // 550 5.7.1 [ABUSE]: the user or sender is blocked
  kThrottled,  // 421 4.7.1: a sliding-window limit is exceeded
  kIpRefused,  // 550 5.7.1 [IP]: the client address is not in the user's IP allow-list
  kQuotaExceeded,  // [QUOTA]: a monthly quota is used up ([quota] exhausted: 5xx or 4xx)
  kFailure,    // Redis unavailable: the [failure] reply
  kUnauthenticatedReject,  // no sasl_username under [policy] unauthenticated = "reject"
};

// "dunno", "acl", "block", "rate", "ip", "quota", "failure", "unauthenticated"
std::string_view ActionName(Action action);

struct Verdict {
  Action action = Action::kDunno;
  std::string rule;       // what fired, for logs and explain: "block user:alice", "acl not-granted"
  std::string report_id;  // ACL, IP allow-list and block refusals
  std::string user;       // sasl_username as sent (sanitised when formatted)
  std::string domain;     // sender domain, lower-cased
  // kThrottled: which limit, where it stands, and when the window admits the message again.
  std::string metric;
  uint64_t count = 0;
  uint64_t max = 0;
  uint64_t window_ms = 0;
  uint64_t retry_after_s = 0;
  std::string facts;  // explain mode: the script's facts as JSON
  std::string created_block;  // reason of a block this request's throttle or signal created
  // Quota warning levels this request crossed, "user:alice 80,account:acme 90" ('' if none):
  // each is logged and counted once (decide.lua fires each level once per period).
  std::string quota_warnings;
};

// The action text for Postfix ("DUNNO", "550 [ACL] Blocked. See https://...") from the
// verdict and the templates in config. report_url is built from [report] base_url, the id
// and its auth token.
std::string FormatVerdict(const Verdict& verdict, const Config& config);

// "DUNNO" or [messages] defer, per [failure] on_redis_error.
std::string FailureActionText(const Config& config);

}  // namespace policyd
