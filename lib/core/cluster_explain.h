// explain on a Redis Cluster (issue 17), the pure part. On one Redis decide.lua in mode
// 'explain' returns the facts behind a decision as JSON in one call. On a cluster the same
// facts come in parts, each from the Lua helpers decide.lua uses: access_decide.lua's
// (sections 1-3: blocks, the user, plan, IP allow-list, ACL) and, for each subject of the
// request's rate limits, subject_explain.lua's entries of facts.limits (read in the
// subject's slot, nothing written). This joins them into decide.lua's facts JSON and gives
// the rate verdict the cluster's decision would give for them (ClusterPolicyStore: the
// subjects in PlanSubjectCalls order, CombineSubjectOutcomes, RateRefusalOf). The I/O is
// lib/store/cluster_explain.h.
#pragma once

#include <string>
#include <vector>

#include "core/cluster_quota.h"
#include "core/cluster_verdict.h"
#include "core/result.h"
#include "core/subject_count.h"

namespace policyd {

struct ClusterExplanation {
  ReplyParts parts;   // the verdict: a rate refusal, or 'within limits' / 'pre-check ...'
  std::string facts;  // decide.lua's explain facts (JSON object)
};

// access_facts: access_decide.lua's facts (AccessOutcome::facts). calls: SubjectCallsByTag
// of `limits` (RequestLimits' TaggedLimits, kinds their subject words), one subject_explain.lua
// call each, its ARGV from BuildSubjectCountArgs with the stage's costs; subject_facts[i]:
// calls[i]'s reply, one JSON entry per limit of the call. facts.limits
// lists the entries in `limits` order, as decide.lua does. kInternal when a reply does not
// fit what was asked.
Result<ClusterExplanation> ExplainRates(const std::string& access_facts, const RateStage& stage,
                                        const std::vector<TaggedLimit>& limits,
                                        const std::vector<std::string>& kinds,
                                        const std::vector<SubjectCall>& calls,
                                        const std::vector<std::string>& subject_facts);

// The request's monthly quotas added to a rate explanation, as decide.lua's section 4b
// explains them: facts.quota lists every quota (RequestQuotas order; none: no quota field is
// a number) with its use in `period`, and when the rates did not refuse, a quota the request
// would overrun is the verdict ('quota'). outcomes[i]: quotas[i]'s quota_count.lua call in
// mode check. kInternal when an outcome is an error.
Result<ClusterExplanation> ExplainQuotas(ClusterExplanation rates,
                                         const std::vector<QuotaSubject>& quotas,
                                         const std::vector<QuotaOutcome>& outcomes,
                                         const std::string& period);

}  // namespace policyd
