// A decision's rate check split by subject (issue 17): every subject of a request is checked
// and counted in its own slot by subject_count.lua, all calls sent at once (one round trip
// when every subject passes). When one subject refuses or its call fails, the subjects that
// may have counted are refunded (subject_refund.lua) and the refusal or failure is the
// answer. Refunds are fire-and-forget: the verdict does not wait for them; a refund that
// fails is sent again (kRefundAttempts in all), and it is idempotent, so a duplicate costs
// nothing. A refund that never lands (an instance crashed) leaves the count in place, which
// only errs on the side of refusing, and its record expires by itself.
//
// The calls go through a SubjectScriptCall: on a cluster, ClusterScriptRunner routes each by
// its subject's key; on one Redis, ScriptRunner sends them all to that Redis. The
// orchestration is the same; the pure part (which calls, the verdict, which refunds) is
// lib/core/subject_count.h. Not yet plugged into the decision path (PolicyStore).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/subject_count.h"
#include "store/redis_client.h"

namespace policyd {

class ClusterScriptRunner;
class ScriptRunner;

// Runs script `name` of the function library where `keys` live (SubjectCallKeys: the route
// key first, then every other key the call touches), with `args` as ARGV. The callback runs
// exactly once, with the script's reply or an Error.
using SubjectScriptCall =
    std::function<void(std::string_view name, std::vector<std::string> keys,
                       std::vector<std::string> args, uint64_t timeout_ms,
                       RedisClient::Callback callback)>;

// On a cluster: FCALL with every key declared (the scripts check they are theirs).
// The runner must outlive every call.
SubjectScriptCall ClusterSubjectCall(ClusterScriptRunner* runner);
// On one Redis: every subject there (FCALL with no keys, as every other script).
SubjectScriptCall OneRedisSubjectCall(ScriptRunner* runner);

// subject_count.lua's reply (or the call's failure) as a SubjectOutcome; a reply of another
// shape is an error outcome.
SubjectOutcome ParseSubjectCountReply(const Result<RedisValue>& reply);

// What Decide answers: the calls made (PlanSubjectCalls), each one's outcome, and the verdict.
struct SubjectDecision {
  std::string message_id;  // the identity the outcomes' counts are under (a second try's)
  std::vector<SubjectCall> calls;
  std::vector<SubjectOutcome> outcomes;
  CombinedVerdict verdict;
};

class ClusterDecision {
 public:
  static constexpr int kRefundAttempts = 3;

  // call: where scripts run; must outlive this object. Each call is bounded by its
  // context's timeout_ms.
  //
  // retry_refused: a refusal that made other subjects give back their counts is decided once
  // more, when those refunds have landed, under a derived identity (ctx.message_id + "/2"):
  // requests arriving together can refuse each other (each subject's first comers differ,
  // so each may be refused by a count that is then refunded). Deterministic for repeats: a
  // repeated request finds the first attempt's records, then the second's. Costs a refused
  // request with refunds two more round trips.
  explicit ClusterDecision(SubjectScriptCall call, bool retry_refused = false)
      : call_(std::move(call)), retry_refused_(retry_refused) {}
  ClusterDecision(const ClusterDecision&) = delete;
  ClusterDecision& operator=(const ClusterDecision&) = delete;

  // Checks and counts `limits` for one request (ctx.message_id names its reservations).
  // ctx.now_ms 0 means this host's clock, read once here: the calls' declared keys name the
  // reservation slices of that time, so the scripts must use it too (not Redis TIME).
  // `done` runs once, on the loop of the call's client, when every subject has answered;
  // the refunds the verdict needs are sent just before it and are not waited for. This
  // object must outlive every call it sent (ClusterClient::Stop runs every callback).
  void Decide(const SubjectCallContext& ctx, const std::vector<TaggedLimit>& limits,
              const SubjectCosts& costs, std::function<void(SubjectDecision)> done);

  // Refunds one subject's reservation of ctx.message_id (idempotent), retried on error;
  // `landed` (optional) runs once the refund is answered or given up.
  void Refund(const SubjectCallContext& ctx, const std::string& tag,
              std::function<void()> landed = nullptr);

  uint64_t refunds_in_flight() const { return refunds_in_flight_; }
  uint64_t refunds_sent() const { return refunds_sent_; }      // first attempts
  uint64_t refund_retries() const { return refund_retries_; }  // attempts after an error
  uint64_t refunds_lost() const { return refunds_lost_; }      // every attempt failed
  uint64_t second_tries() const { return second_tries_; }      // retry_refused decisions

 private:
  void DecideAttempt(const SubjectCallContext& ctx, std::vector<TaggedLimit> limits,
                     const SubjectCosts& costs, int attempt,
                     std::function<void(SubjectDecision)> done);

  SubjectScriptCall call_;
  uint64_t refunds_in_flight_ = 0;
  uint64_t refunds_sent_ = 0;
  uint64_t refund_retries_ = 0;
  uint64_t refunds_lost_ = 0;
  bool retry_refused_ = false;
  uint64_t second_tries_ = 0;
};

}  // namespace policyd
