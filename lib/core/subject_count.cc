#include "core/subject_count.h"

#include <string>
#include <utility>

namespace policyd {

int64_t SubjectCosts::For(const std::string& metric) const {
  if (metric == "messages") return messages;
  if (metric == "recipients") return recipients;
  if (metric == "bytes") return bytes;
  return 0;
}

std::vector<SubjectCall> SubjectCallsByTag(const std::vector<TaggedLimit>& limits) {
  std::vector<SubjectCall> calls;
  for (const TaggedLimit& l : limits) {
    if (l.tag.empty()) continue;
    size_t i = 0;
    while (i < calls.size() && calls[i].tag != l.tag) ++i;
    if (i == calls.size()) calls.push_back(SubjectCall{l.tag, {}});
    // A limit this request costs nothing under still goes along: window_add_all sets the
    // subject's hash TTL from its longest window, so every window must be there.
    calls[i].limits.push_back(l.limit);
  }
  return calls;
}

std::vector<SubjectCall> PlanSubjectCalls(const std::vector<TaggedLimit>& limits,
                                          const SubjectCosts& costs) {
  std::vector<SubjectCall> out;
  for (SubjectCall& call : SubjectCallsByTag(limits)) {
    bool costs_something = false;
    for (const SubjectLimit& l : call.limits) costs_something |= costs.For(l.metric) > 0;
    if (costs_something) out.push_back(std::move(call));
  }
  return out;
}

std::string SubjectRouteKey(const std::string& prefix, const std::string& tag) {
  return prefix + "rate:{" + tag + "}";
}

std::vector<std::string> SubjectCallKeys(const SubjectCallContext& ctx, const std::string& tag) {
  std::vector<std::string> keys = {SubjectRouteKey(ctx.prefix, tag)};
  if (ctx.now_ms <= 0 || ctx.reservation_ms <= 0) return keys;
  int64_t slice = ctx.now_ms / ctx.reservation_ms;  // math.floor(now / span) for now > 0
  std::string resv = ctx.prefix + "resv:{" + tag + "}:";
  keys.push_back(resv + std::to_string(slice));
  keys.push_back(resv + std::to_string(slice - 1));
  return keys;
}

std::vector<std::string> BuildSubjectCountArgs(const SubjectCallContext& ctx,
                                               const SubjectCall& call,
                                               const SubjectCosts& costs) {
  std::vector<std::string> args = {
      ctx.now_ms > 0 ? std::to_string(ctx.now_ms) : "", ctx.prefix, call.tag, ctx.message_id,
      std::to_string(ctx.buckets), std::to_string(ctx.reservation_ms),
      std::to_string(costs.messages), std::to_string(costs.recipients),
      std::to_string(costs.bytes), ctx.transaction_id};
  args.reserve(args.size() + 3 * call.limits.size());
  for (const SubjectLimit& l : call.limits) {
    args.push_back(l.metric);
    args.push_back(std::to_string(l.window_s));
    args.push_back(std::to_string(l.max));
  }
  return args;
}

std::vector<std::string> BuildSubjectRefundArgs(const SubjectCallContext& ctx,
                                                const std::string& tag) {
  return {ctx.now_ms > 0 ? std::to_string(ctx.now_ms) : "", ctx.prefix, tag, ctx.message_id,
          std::to_string(ctx.reservation_ms), ctx.transaction_id};
}

CombinedVerdict CombineSubjectOutcomes(const std::vector<SubjectOutcome>& outcomes) {
  using Status = SubjectOutcome::Status;
  CombinedVerdict v;
  bool refused = false, failed = false, given_up = false;
  for (size_t i = 0; i < outcomes.size(); ++i) {
    switch (outcomes[i].status) {
      case Status::kCounted:
        break;
      case Status::kRefused:
        if (!refused) v.deciding = i;
        refused = true;
        break;
      case Status::kError:
        if (!refused && !failed) v.deciding = i;
        failed = true;
        break;
      case Status::kRefunded:
        if (!refused && !failed && !given_up) v.deciding = i;
        given_up = true;
        break;
    }
  }
  if (refused) {
    v.kind = CombinedVerdict::Kind::kRefuse;
  } else if (failed) {
    v.kind = CombinedVerdict::Kind::kFailure;
  } else if (given_up) {
    v.kind = CombinedVerdict::Kind::kGivenUp;
  } else {
    v.kind = CombinedVerdict::Kind::kAdmit;
    v.deciding = 0;
    return v;
  }
  for (size_t i = 0; i < outcomes.size(); ++i) {
    Status s = outcomes[i].status;
    if (s == Status::kCounted || s == Status::kError) v.refunds.push_back(i);
  }
  return v;
}

}  // namespace policyd
