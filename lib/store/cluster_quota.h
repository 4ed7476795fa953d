// Monthly quotas in a decision on a Redis Cluster (issue 19 on issue 17), the I/O: one
// quota_count.lua call per quota of the request (the user's in the user's slot, the
// account's in the account's), then the combined verdict. Why this runs after the rate
// subjects admitted, and why that is exact when requests race: lib/core/cluster_quota.h.
//
// Counting, the quotas are called one after the other, the user's first, the account's only
// when the user's counted: an account's quota is shared by all its users, so a count that
// a request refused by its user's quota held there until its refund landed would refuse
// other users' messages (a 5xx) while the account still had room. In this order only the
// user's count is ever refunded (its account refused: full, so a message that count refuses
// meanwhile would find the account full too), and an account admits exactly its quota. It
// costs a round trip more when both have a quota. The pre-check and a repeat's lookup write
// nothing and call both at once. Refunds are sent like ClusterDecision's: before the verdict is
// handed on, not waited for, retried on error (kRefundAttempts in all), idempotent; one that
// never lands leaves a count for the rest of the month (a message too many counted, which
// only refuses early; `policyctl quota unlock` or set lifts it).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/cluster_quota.h"
#include "store/cluster_decision.h"
#include "store/redis_client.h"

namespace policyd {

// quota_count.lua's reply (or the call's failure) as a QuotaOutcome; another shape is an
// error outcome.
QuotaOutcome ParseQuotaReply(const Result<RedisValue>& reply);

struct QuotaDecision {
  std::vector<QuotaOutcome> outcomes;  // RequestQuotas order
  QuotaVerdict verdict;
};

class ClusterQuota {
 public:
  static constexpr int kRefundAttempts = 3;

  // call: where scripts run (ClusterSubjectCall); must outlive this object.
  explicit ClusterQuota(SubjectScriptCall call) : call_(std::move(call)) {}
  ClusterQuota(const ClusterQuota&) = delete;
  ClusterQuota& operator=(const ClusterQuota&) = delete;

  // Calls every quota in `mode` (kCount, kCheck or kLookup; ctx.subject.now_ms > 0) and
  // runs `done` once with their verdict; no quotas: kAdmit at once. kCount: in order, each
  // only when the ones before counted (or have no quota: those not reached are kNone); a
  // verdict other than kAdmit first sends the refunds it names. This object must outlive
  // every call.
  void Decide(const QuotaCallContext& ctx, const std::vector<QuotaSubject>& quotas,
              QuotaMode mode, std::function<void(QuotaDecision)> done);

  // Takes back one quota's count of ctx's message identity (idempotent), retried on error.
  void Refund(const QuotaCallContext& ctx, const QuotaSubject& quota);

  uint64_t refunds_in_flight() const { return refunds_in_flight_; }
  uint64_t refunds_sent() const { return refunds_sent_; }
  uint64_t refunds_lost() const { return refunds_lost_; }

 private:
  struct Pending;  // one Decide in flight
  void Call(const std::shared_ptr<Pending>& p, std::size_t i);

  SubjectScriptCall call_;
  uint64_t refunds_in_flight_ = 0;
  uint64_t refunds_sent_ = 0;
  uint64_t refunds_lost_ = 0;
};

}  // namespace policyd
