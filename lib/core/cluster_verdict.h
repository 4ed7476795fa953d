// A decision on a Redis Cluster (issue 17), the pure part: what access_decide.lua answered
// (sections 1-3 of decide.lua over records read slot by slot), what the request costs, the
// limits it is checked against per subject, and decide.lua's reply for each outcome, so that
// ClusterPolicyStore (lib/store/cluster_policy_store.h) answers with exactly the fields
// decide.lua answers on one Redis (ParseDecideReply reads both).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/access_cache.h"
#include "core/decide_args.h"
#include "core/result.h"
#include "core/subject_count.h"
#include "core/verdict.h"

namespace policyd {

// access_decide.lua's reply (_access.lua access_outcome).
struct AccessOutcome {
  std::string kind;  // pass, block, unknown_dunno, ip, acl
  std::vector<ResolvedLimit> limits;  // kind pass: the request's resolved limits
  std::string account;                // '' none
  std::string user_quota;             // the user's 'quota' field, '' none
  std::string account_quota;          // '' none
  std::string block_tag, block_reason, block_report;  // kind block
  std::string acl_reason;                             // kind acl
  std::string report_mode;  // an ACL report's guidance: the user's mode, 'unknown' none
  std::string plan_name;
  std::string facts;  // explain mode (a twelfth element): sections 1-3's facts as JSON
};
std::optional<AccessOutcome> ParseAccessOutcome(const std::vector<std::string>& reply);

// What a request costs and whether it counts, as decide.lua's cost table; nullopt: the stage
// has no rate check. args: BuildDecideArgs' (decide.lua's ARGV 1-32).
struct RateStage {
  SubjectCosts costs;
  bool counting = false;  // false: the RCPT pre-check (count_at = eom), read only
  std::string identity;   // what the reservations are keyed by ('' for the pre-check)
  // count_at = rcpt: the identity of the message the RCPT belongs to (SubjectCallContext::
  // transaction_id: its messages and bytes cost once); '' otherwise.
  std::string message;
};
std::optional<RateStage> ReadRateStage(const std::vector<std::string>& args);

// The request's limits as TaggedLimits, in the order decide.lua checks them (its tags: user
// -> the subject, sender -> the sender tag, ip -> the client's tag, account -> 'account:' ..
// the account; a limit of another subject, or of an empty tag, does not apply). kinds (same
// length) gets each limit's subject word, which a rate refusal's rule names.
std::vector<TaggedLimit> RequestLimits(const std::vector<ResolvedLimit>& limits,
                                       const std::vector<std::string>& args,
                                       const std::string& account,
                                       std::vector<std::string>* kinds);

// The subjects whose sent messages an admitted message counts (_rates.lua count_sent's): the
// subject, the sender tag when it is another, the account ('' none).
std::vector<std::string> SentTags(const std::vector<std::string>& args,
                                  const std::string& account);

// decide.lua's reply fields for one verdict (reply(...) in decide.lua): action, rule, report,
// the args' sender domain, metric, count, max, window_s, retry_after, facts '', created block,
// quota warnings.
struct ReplyParts {
  std::string action, rule, report, metric;
  int64_t count = 0, max = 0, window_s = 0, retry_after = 0;
  std::string created_block;
  std::string quota_warnings;  // the levels an admitted message crossed (core/cluster_quota.h)
};
// A verdict without a limit: action, rule, and the report ('' none).
ReplyParts Parts(std::string action, std::string rule, std::string report = "");
Result<Verdict> ClusterVerdict(const ReplyParts& parts, const std::vector<std::string>& args);

// The refusal_report.lua call of an IP allow-list or ACL refusal (outcome kind 'ip' or 'acl'),
// in the user's slot, and the verdict it completes with the report id it answers. create
// false (explain): the call only looks up an existing report and writes nothing.
struct RefusalReportCall {
  std::string route_key;  // the refusal's dedup key: every key the call touches shares its slot
  std::vector<std::string> args;
  ReplyParts parts;  // report: '' (the call's reply)
};
RefusalReportCall RefusalReportOf(const AccessOutcome& outcome,
                                  const std::vector<std::string>& args, bool create);

// The verdict parts of a refusing subject's outcome (its limit's subject word: the first limit
// of that tag, metric, window and max; an unauthenticated sender's user and sender limits
// share a tag and may share a window) and
// the throttle evidence decide.lua writes for it ('METRIC COUNT/MAX per Ws (KIND)').
struct RateRefusal {
  ReplyParts parts;
  std::string evidence;
  bool repeat = false;  // the subject answered an earlier refusal of the same identity
};
RateRefusal RateRefusalOf(const SubjectCall& call, const SubjectOutcome& outcome,
                          const std::vector<TaggedLimit>& limits,
                          const std::vector<std::string>& kinds);

}  // namespace policyd
