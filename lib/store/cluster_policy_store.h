// Where decisions meet a Redis Cluster (issue 17): PolicyStore's Decide when a request's
// subjects (user, sender, account, client IP) live in different slots, so that no one script
// can decide it. The access facts are read slot by slot (ClusterAccess, evaluated by
// access_decide.lua); each subject's windows are checked and counted in its own slot with a
// reservation that is refunded when another subject refuses (ClusterDecision); what belongs
// to the user (ACL and IP reports, throttles and their escalation) is written in the user's
// slot. The verdicts carry decide.lua's fields (lib/core/cluster_verdict.h).
//
// A decision, in round trips: the access reads (two rounds, then access_decide on one
// primary); then, for a pass, every subject's subject_count at once (the RCPT pre-check:
// the same calls in check-only mode, which write nothing); then one call in the user's slot:
// for a refusal or a refusal's report, or list_bombing.lua for an admitted, counted request.
// With count_at = rcpt each subject's subject_count counts a message (and its size) at the
// message's first counted RCPT only, as decide.lua does, by a mark of its own.
//
// Monthly quotas (the user's in its slot, the account's in its slot) are a step after the
// rates admitted: lib/core/cluster_quota.h says why and how that stays exact.
//
// Explain mode only reads, writing nothing (lib/store/cluster_explain.h).
//
// Not yet as on one Redis: the loop's access cache (set_caches is kept, not read).
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/cluster_verdict.h"
#include "core/config.h"
#include "core/decide_args.h"
#include "core/policy_request.h"
#include "core/result.h"
#include "core/verdict.h"
#include "store/cluster_access.h"
#include "store/cluster_client.h"
#include "store/cluster_decision.h"
#include "store/cluster_quota.h"
#include "store/cluster_script_runner.h"
#include "store/local_refusals.h"

namespace policyd {

class ClusterPolicyStore {
 public:
  using Callback = std::function<void(Result<Verdict>)>;

  // All must outlive the store and every call in flight.
  ClusterPolicyStore(uv_loop_t* loop, ClusterClient* cluster, ClusterScriptRunner* scripts)
      : loop_(loop),
        cluster_(cluster),
        scripts_(scripts),
        access_(loop, cluster, scripts),
        decision_(ClusterSubjectCall(scripts), /*retry_refused=*/true),
        quota_(ClusterSubjectCall(scripts)) {}
  ClusterPolicyStore(const ClusterPolicyStore&) = delete;
  ClusterPolicyStore& operator=(const ClusterPolicyStore&) = delete;

  // As PolicyStore::Decide: callback runs exactly once, possibly before Decide returns.
  void Decide(std::shared_ptr<const Config> config, const PolicyRequest& request,
              Callback callback, DecideOptions options = {});

  ClusterScriptRunner& scripts() { return *scripts_; }
  // The loop's caches (access cache); null: always read the access facts.
  void set_caches(LocalRefusals* caches) { caches_ = caches; }
  // The rate checks' refunds and second tries (tests print them); null before a decision.
  const ClusterDecision* decisions() const { return &decision_; }
  // The monthly quotas' calls (tests wait for their refunds).
  const ClusterQuota& quotas() const { return quota_; }

 private:
  struct Request;
  void Decided(const std::shared_ptr<Request>& r, AccessOutcome outcome);
  void Report(const std::shared_ptr<Request>& r, const AccessOutcome& outcome);
  void Rates(const std::shared_ptr<Request>& r, const AccessOutcome& outcome);
  void Precheck(const std::shared_ptr<Request>& r);
  // An admitted message's sent counters (sent_count.lua in each subject's slot), sent with
  // the verdict and not waited for: a count lost to a crash only makes a rate a message
  // smaller.
  void CountSent(const Request& r);
  // An admitted, counted request: its list-bombing (list_bombing.lua in the user's slot,
  // where decide.lua keeps it: one call, waited for, so that a block it creates is in the
  // verdict as decide.lua's is), its sent counters, then the verdict. `repeat`: the subjects
  // answered an earlier call with this identity.
  void Admitted(const std::shared_ptr<Request>& r, bool repeat);
  // A rate refusal: the verdict, after record_throttles in the user's slot (unless the
  // refusal is a repeat of one already recorded).
  void Throttled(const std::shared_ptr<Request>& r, RateRefusal refusal);
  // Milliseconds left of the request's timeout (at least 1).
  uint64_t Left(const Request& r) const;
  // The monthly quotas of a counted request, once its rates decided (lib/core/cluster_quota.h):
  // admitted by the rates, each quota is counted in its slot; a quota refusal refunds the
  // rates (ctx: the rate calls') and answers 'quota'. A request the rates gave up (a repeat
  // of one a quota refused) answers that refusal again. Anything else, and an admission by
  // the quotas, goes on to `decided` (the rates' verdict).
  void Quotas(const std::shared_ptr<Request>& r, const SubjectCallContext& ctx, SubjectDecision d,
              std::function<void(SubjectDecision)> decided);
  // The RCPT pre-check's quotas, once the rates had room: read only.
  void PrecheckQuotas(const std::shared_ptr<Request>& r);
  QuotaCallContext QuotaContext(const Request& r, const std::string& message_id) const;

  uv_loop_t* loop_;
  ClusterClient* cluster_;
  ClusterScriptRunner* scripts_;
  ClusterAccess access_;
  // Made at the first decision, with its config's request_timeout (refunds in flight use it).
  ClusterDecision decision_;
  ClusterQuota quota_;
  DecideSpecsCache specs_;
  LocalRefusals* caches_ = nullptr;
};

}  // namespace policyd
