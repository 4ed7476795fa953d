// A decision split by subject (issue 17): on a Redis Cluster each subject of a request (the
// user, the sender, the account, the client IP) lives in its own slot, so its windows are
// checked and counted there by one call (lib/store/lua/subject_count.lua) that also records a
// reservation under the message identity. When every subject counted, the request passes;
// when one refuses or fails, the subjects that counted are refunded (subject_refund.lua), so
// no limit ever keeps a count of a message that was not admitted. This file is the pure part:
// which calls to make, their arguments, and the combined verdict with the refunds it needs.
// The I/O is lib/store/cluster_decision.h.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace policyd {

// One resolved limit of one subject: `max` units of `metric` ("messages", "recipients",
// "bytes") per `window_s` seconds.
struct SubjectLimit {
  std::string metric;
  int64_t window_s = 0;
  int64_t max = 0;
};

// A limit of the request and the subject it applies to (an escaped tag, "user:alice",
// "account:acme", "ip:192.0.2.1"; redis_keys.h builds them). An empty tag (no sender) means
// the limit does not apply to this request.
struct TaggedLimit {
  std::string tag;
  SubjectLimit limit;
};

// What the request costs, per metric (decide.lua's cost table).
struct SubjectCosts {
  int64_t messages = 0;
  int64_t recipients = 0;
  int64_t bytes = 0;
  int64_t For(const std::string& metric) const;  // 0 for an unknown metric
};

// One subject_count call: a subject and its limits that this request's costs touch.
struct SubjectCall {
  std::string tag;
  std::vector<SubjectLimit> limits;
};

// The calls for one request, one per distinct tag, in the order tags first appear in
// `limits` (so the verdict names the first refusing subject in that order). Limits with an
// empty tag are left out; a subject whose limits this request costs nothing under gets no
// call. A limit with a zero cost stays in its subject's call (checked against nothing, but
// its window sets the subject's hash TTL, as in decide.lua).
std::vector<SubjectCall> PlanSubjectCalls(const std::vector<TaggedLimit>& limits,
                                          const SubjectCosts& costs);
// Every subject of `limits` with all its limits, in the same order, whatever the request costs
// (explain lists a limit it costs nothing under too: lib/core/cluster_explain.h).
std::vector<SubjectCall> SubjectCallsByTag(const std::vector<TaggedLimit>& limits);

// Arguments shared by a request's calls.
struct SubjectCallContext {
  std::string prefix = "pd:";
  std::string message_id;      // the message identity: reservations are keyed by it
  // count_at = rcpt: the identity of the message whose RCPT this is (message_id is the
  // RCPT's): each subject counts the message's messages and bytes at its first counted RCPT
  // only, keeping a mark of it with that RCPT's reservation (a refund takes both back).
  // '' otherwise: every call costs what it is given.
  std::string transaction_id;
  int64_t buckets = 60;        // [policy] buckets
  int64_t reservation_ms = 300000;  // a reservation (or a tombstone) lives 1 to 2 times this
  int64_t now_ms = 0;          // 0: the Redis server's TIME (tests inject one)
  // Bounds each call (the ClusterClient waits for a failing-over primary until then); per
  // request, so a reload's [server] request_timeout applies to the next one.
  uint64_t timeout_ms = 5000;
};

// The route key of a subject's calls: its pd:rate key (every key the calls touch shares its
// slot), and the ARGV of subject_count.lua and subject_refund.lua.
std::string SubjectRouteKey(const std::string& prefix, const std::string& tag);
// Every key a subject's call touches, the route key first: its pd:rate key and the two
// reservation slices (pd:resv:{TAG}:SLICE, the current and the previous one, as _common.lua's
// slice_keys names them from ctx.now_ms and ctx.reservation_ms). A cluster call declares them
// all, so that while the slot is being migrated Redis answers TRYAGAIN when only some of them
// have moved (the script would read the others as missing: a reservation or a refund lost)
// and ASK only when none is left on the source. REQUIRES: ctx.now_ms > 0 (the scripts then
// use that time, not Redis TIME); otherwise only the route key.
std::vector<std::string> SubjectCallKeys(const SubjectCallContext& ctx, const std::string& tag);
std::vector<std::string> BuildSubjectCountArgs(const SubjectCallContext& ctx,
                                               const SubjectCall& call, const SubjectCosts& costs);
std::vector<std::string> BuildSubjectRefundArgs(const SubjectCallContext& ctx,
                                                const std::string& tag);

// One subject's answer, parsed by the store from subject_count's reply (or its failure).
struct SubjectOutcome {
  enum class Status {
    kCounted,   // counted (or, repeat, counted earlier with this identity)
    kRefused,   // a limit of this subject has no room: the fields below say which
    kRefunded,  // this identity was refunded here before: the request was given up earlier
    kError,     // the call failed (a primary down, a timeout): error says why
  };
  Status status = Status::kError;
  std::string metric;
  int64_t window_s = 0;
  int64_t count = 0;
  int64_t max = 0;
  int64_t retry_after_s = 0;
  bool repeat = false;
  std::string error;
};

// The request's verdict from its subjects' outcomes (in PlanSubjectCalls order).
struct CombinedVerdict {
  enum class Kind {
    kAdmit,    // every subject counted: nothing to refund
    kRefuse,   // `deciding` refused: answer its limit
    kFailure,  // `deciding` failed, none refused: the [failure] reply
    kGivenUp,  // a subject had this identity refunded already (an earlier attempt was
               // refused or failed): nothing is counted; answered as a failure, never admitted
  };
  Kind kind = Kind::kAdmit;
  size_t deciding = 0;          // index of the outcome the verdict comes from (not kAdmit)
  std::vector<size_t> refunds;  // subjects to refund: those that counted, unless admitted
};

// A refusal outranks a failure (the answer is a refusal whatever the failed subject would
// have said), a failure outranks a given-up subject. Every subject that may hold a count for
// this identity is refunded when the request is not admitted: kCounted ones and kError ones
// (a failed call may have counted before its reply was lost; a refund of a subject that never
// counted leaves a tombstone, harmless).
CombinedVerdict CombineSubjectOutcomes(const std::vector<SubjectOutcome>& outcomes);

}  // namespace policyd
