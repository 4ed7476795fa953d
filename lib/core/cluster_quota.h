// Monthly quotas in a decision on a Redis Cluster (issue 19 on issue 17), the pure part. On
// one Redis decide.lua checks a user's and its account's quota in section 4b, after the rate
// limits, in the same atomic call. On a cluster the user's quota counter lives in the user's
// slot and the account's in the account's slot, so each is checked and counted there by one
// quota_count.lua call that also records a reservation under the message identity.
//
// Why a step after the rates and not one more subject of ClusterDecision: decide.lua answers
// a rate refusal before a quota refusal, and a request refused by a rate counts nothing in
// any quota (no warning fires). Run once the rates admitted, the quota step sees exactly the
// requests decide.lua would count, and a quota refusal refunds the rate subjects (the same
// subject_refund.lua a rate refusal uses) and the user's quota if it counted (the store calls
// the account's only after the user's: lib/store/cluster_quota.h). Exactness across
// slots is the rates': each quota is checked and counted atomically in its slot, counts are
// only ever taken back, so no quota admits more than its max when requests race; a race can
// only refuse early (a count another request holds until its refund lands). The cost: one
// round trip more, only for users and accounts that have a quota.
//
// The I/O is lib/store/cluster_quota.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/cluster_verdict.h"
#include "core/subject_count.h"

namespace policyd {

// One quota of a request: the subject's tag ("user:alice" escaped, "account:acme") and its
// quota as the record holds it (quota_count.lua reads it with tonumber, as decide.lua does).
struct QuotaSubject {
  std::string tag;
  std::string quota;
};

// The request's quotas in decide.lua's order: the user's ('' field: none), then its
// account's. args: decide.lua's ARGV 1-32 (the subject is the user's tag).
std::vector<QuotaSubject> RequestQuotas(const AccessOutcome& outcome,
                                        const std::vector<std::string>& args);

// The calendar month of now_ms at offset_min minutes east of UTC, "YYYYMM", as _common.lua
// quota_period names it.
std::string QuotaPeriod(int64_t now_ms, int offset_min);
// The offset of a [quota] spec "OFFSET_MIN|reject|80,90,100" (0 when malformed, as in Lua).
int QuotaSpecOffset(std::string_view spec);

enum class QuotaMode { kCount, kCheck, kRefund, kLookup };

// What every quota call of one request shares.
struct QuotaCallContext {
  SubjectCallContext subject;  // prefix, message_id, reservation_ms, now_ms (> 0), timeout
  std::string quota_spec;      // [quota] (decide.lua ARGV[31])
  std::string abuse_spec;      // [abuse] escalation (decide.lua ARGV[23]): evidence bounds
  int64_t messages = 0;        // what the request costs
};

// Every key a quota call touches that it must declare, the route key first: the quota hash
// of the period, PREFIXquota:{TAG}:YYYYMM, and the reservation slices PREFIXqresv:{TAG}:SLICE
// (current, previous). REQUIRES: ctx.subject.now_ms > 0.
std::vector<std::string> QuotaCallKeys(const QuotaCallContext& ctx, const std::string& tag);
// quota_count.lua's ARGV.
std::vector<std::string> BuildQuotaCallArgs(const QuotaCallContext& ctx, const QuotaSubject& q,
                                            QuotaMode mode);

// One quota's answer (quota_count.lua's reply, or the call's failure).
struct QuotaOutcome {
  enum class Status { kCounted, kRefused, kRefunded, kNone, kError };
  Status status = Status::kError;
  int64_t used = 0;
  int64_t quota = 0;
  std::string rule;      // kRefused: decide.lua's rule text
  std::string warnings;  // the levels this call fired, "TAG PERCENT,..."
  bool repeat = false;
  bool unlocked = false;  // QuotaMode::kCheck: the month is unlocked (explain's facts)
  std::string error;
};

// The quotas' verdict, outcomes in RequestQuotas order.
struct QuotaVerdict {
  enum class Kind {
    kAdmit,    // every quota counted (or had room, or is none)
    kRefuse,   // `deciding` refused: parts is decide.lua's 'quota' reply
    kFailure,  // `deciding` failed, none refused
    kGivenUp,  // a quota had this identity refunded (an earlier attempt was not admitted)
  };
  Kind kind = Kind::kAdmit;
  std::size_t deciding = 0;
  std::vector<std::size_t> refunds;  // quotas that may hold a count, when not admitted
  ReplyParts parts;                  // kRefuse
  std::string warnings;              // kAdmit: every quota's fired levels, joined by ','
  bool repeat = false;               // kAdmit: every quota answered a repeat
};
// A refusal outranks a failure, a failure a given-up quota (CombineSubjectOutcomes' order).
QuotaVerdict CombineQuotaOutcomes(const std::vector<QuotaOutcome>& outcomes);

}  // namespace policyd
