#include "core/cluster_explain.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <utility>

namespace policyd {
namespace {

Error Unfit(const std::string& what) {
  return Error{ErrorCode::kInternal, "explain on a cluster: unexpected " + what};
}

int64_t Int(const nlohmann::json& entry, const char* name) {
  auto it = entry.find(name);
  return it != entry.end() && it->is_number() ? static_cast<int64_t>(it->get<double>()) : 0;
}

// A subject's outcome as subject_count.lua's check would answer it: the first entry that
// refuses (one with retry_after; window_refusal gives it only for a limit with a cost).
SubjectOutcome OutcomeOf(const nlohmann::json& entries) {
  SubjectOutcome o;
  o.status = SubjectOutcome::Status::kCounted;
  for (const nlohmann::json& e : entries) {
    if (!e.contains("retry_after")) continue;
    o.status = SubjectOutcome::Status::kRefused;
    o.metric = e.value("metric", "");
    o.window_s = Int(e, "window");
    o.count = Int(e, "count");
    o.max = Int(e, "max");
    o.retry_after_s = Int(e, "retry_after");
    break;
  }
  return o;
}

}  // namespace

Result<ClusterExplanation> ExplainRates(const std::string& access_facts, const RateStage& stage,
                                        const std::vector<TaggedLimit>& limits,
                                        const std::vector<std::string>& kinds,
                                        const std::vector<SubjectCall>& calls,
                                        const std::vector<std::string>& subject_facts) {
  nlohmann::json facts = nlohmann::json::parse(access_facts, nullptr, false);
  if (!facts.is_object()) return Unfit("access_decide facts");
  if (subject_facts.size() != calls.size()) return Unfit("number of subject replies");
  std::vector<nlohmann::json> entries;
  for (std::size_t i = 0; i < calls.size(); ++i) {
    nlohmann::json e = nlohmann::json::parse(subject_facts[i], nullptr, false);
    if (e.is_object() && e.empty()) e = nlohmann::json::array();  // cjson's empty table
    if (!e.is_array() || e.size() != calls[i].limits.size()) {
      return Unfit("subject_explain reply for " + calls[i].tag);
    }
    entries.push_back(std::move(e));
  }
  nlohmann::json list = nlohmann::json::array();
  std::vector<std::size_t> next(calls.size(), 0);
  for (const TaggedLimit& l : limits) {
    std::size_t c = 0;
    while (c < calls.size() && calls[c].tag != l.tag) ++c;
    if (c == calls.size() || next[c] >= entries[c].size()) return Unfit("limit of " + l.tag);
    list.push_back(entries[c][next[c]++]);
  }
  // decide.lua's cjson writes no limits as an empty object: the same shape here.
  facts["limits"] = list.empty() ? nlohmann::json::object() : std::move(list);

  ClusterExplanation out;
  std::vector<SubjectCall> checked = PlanSubjectCalls(limits, stage.costs);
  std::vector<SubjectOutcome> outcomes;
  for (const SubjectCall& call : checked) {
    std::size_t c = 0;
    while (c < calls.size() && calls[c].tag != call.tag) ++c;
    if (c == calls.size()) return Unfit("subject " + call.tag);
    outcomes.push_back(OutcomeOf(entries[c]));
  }
  CombinedVerdict v = CombineSubjectOutcomes(outcomes);
  if (!outcomes.empty() && v.kind == CombinedVerdict::Kind::kRefuse) {
    out.parts = RateRefusalOf(checked[v.deciding], outcomes[v.deciding], limits, kinds).parts;
  } else {
    out.parts = Parts("dunno", stage.counting ? "within limits" : "pre-check within limits");
  }
  out.facts = facts.dump();
  return out;
}

Result<ClusterExplanation> ExplainQuotas(ClusterExplanation rates,
                                         const std::vector<QuotaSubject>& quotas,
                                         const std::vector<QuotaOutcome>& outcomes,
                                         const std::string& period) {
  if (outcomes.size() != quotas.size()) return Unfit("number of quota replies");
  nlohmann::json facts = nlohmann::json::parse(rates.facts, nullptr, false);
  if (!facts.is_object()) return Unfit("rate facts");
  nlohmann::json list = nlohmann::json::array();
  for (std::size_t i = 0; i < quotas.size(); ++i) {
    const QuotaOutcome& o = outcomes[i];
    if (o.status == QuotaOutcome::Status::kError) return Unfit("quota reply: " + o.error);
    if (o.status == QuotaOutcome::Status::kNone) continue;
    list.push_back({{"subject", quotas[i].tag}, {"used", o.used}, {"quota", o.quota},
                    {"period", period}, {"unlocked", o.unlocked}});
  }
  if (list.empty()) return rates;  // decide.lua: no quota field is a number, no facts.quota
  facts["quota"] = std::move(list);
  rates.facts = facts.dump();
  QuotaVerdict v = CombineQuotaOutcomes(outcomes);
  if (rates.parts.action != "rate" && v.kind == QuotaVerdict::Kind::kRefuse) {
    rates.parts = v.parts;
  }
  return rates;
}

}  // namespace policyd
