// Validation of everything an operator gives policyctl or the HTTP admin API (lib/ops), before
// anything reaches Redis.
// Pure. Each error is kInvalid and names the bad value and what is expected, e.g.
// "mode 'sometimes': expected explicit, account or any". Values that decisions compare
// (domains, sender addresses) come back normalised the way decisions see them.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/policy_request.h"
#include "core/request_parser.h"
#include "core/result.h"

namespace policyd::admin {

// An account name: 1-64 bytes of [A-Za-z0-9._-] (IsValidAccountName).
Result<std::string> CheckAccountName(std::string_view name);

// An SMTP user name (sasl_username): 1-320 bytes; any bytes, keys escape them.
Result<std::string> CheckUserName(std::string_view name);

// A domain of an account: lower-cased, without a trailing dot, a valid DNS name, no "*.".
Result<std::string> CheckDomain(std::string_view domain);

// A grant: a domain as above, or "*." followed by one (it and its subdomains).
Result<std::string> CheckGrantPattern(std::string_view pattern);

// A domain and each parent: "a.example.com" -> a.example.com, example.com, com. An account's
// domain covers its subdomains, so a grant needs one of these on the account.
std::vector<std::string> DomainAndParents(std::string_view domain);

// "explicit", "account" or "any".
Result<std::string> CheckMode(std::string_view mode);

// A plan defined in config ("" = none of its own, inherit).
Result<std::string> CheckPlan(const Config& config, std::string_view plan);

// "spam", "abuse", "rate" or "manual".
Result<std::string> CheckBlockReason(std::string_view reason);

// A block's duration: a positive duration ("1h", "7d", "90" seconds) in milliseconds.
Result<uint64_t> CheckTtl(std::string_view ttl);

// Free text for evidence: at most kMaxEvidenceBytes.
Result<std::string> CheckEvidence(std::string_view text);

// A limit override "SUBJECT:METRIC:WINDOW=MAX" as the user hash stores it:
// field "limit:user:messages:3600" (window in seconds, whole seconds, 1s..30d), max >= 1
// (a number or a size such as "2GiB").
struct LimitOverride {
  std::string field;
  uint64_t max = 0;
};
Result<LimitOverride> ParseLimitOverride(std::string_view text);
// "SUBJECT:METRIC:WINDOW" (for --unset-limit) -> "limit:user:messages:3600".
Result<std::string> ParseLimitField(std::string_view text);
// The user hash field "limit:user:messages:3600" -> "user:messages:1h"; "" if not an override.
std::string LimitFieldLabel(std::string_view field);

// A subject for `usage`: user:NAME, sender:ADDRESS, account:NAME or ip:ADDRESS.
struct UsageSubject {
  SubjectKind kind = SubjectKind::kUser;
  std::string tag;   // escaped key tag, "user:alice"
  std::string name;  // as given after the colon (account: the account name)
};
Result<UsageSubject> ParseUsageSubject(std::string_view text);

// A report id as in a report URL: 20 lowercase hex characters.
Result<std::string> CheckReportId(std::string_view id);

// A positive count for --limit N style options, at most max.
Result<uint64_t> CheckCount(std::string_view option, std::string_view text, uint64_t max);

// A policy request for explain, from NAME=VALUE arguments or from the lines of Postfix's
// format (stdin; it ends at the first empty line after an attribute). "request=" is added
// when missing. Checked with the same parser and bounds as policyd's connections, after a
// first pass that names a line without '=' or an argument holding a newline.
Result<PolicyRequest> ParseExplainArgs(const std::vector<std::string>& args,
                                       const ParserLimits& limits);
Result<PolicyRequest> ParseExplainText(std::string_view text, const ParserLimits& limits);

}  // namespace policyd::admin
