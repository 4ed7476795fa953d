#include "store/cluster_decision.h"

#include <chrono>
#include <memory>
#include <utility>

#include "log/log.h"
#include "store/cluster_script_runner.h"
#include "store/retried_script_call.h"
#include "store/script_runner.h"
#include "store/status_reply.h"
#include "store/wall_clock.h"

namespace policyd {

SubjectScriptCall ClusterSubjectCall(ClusterScriptRunner* runner) {
  return [runner](std::string_view name, std::vector<std::string> keys,
                  std::vector<std::string> args, uint64_t timeout_ms,
                  RedisClient::Callback callback) {
    runner->Run(name, std::move(keys), std::move(args), timeout_ms, std::move(callback));
  };
}

SubjectScriptCall OneRedisSubjectCall(ScriptRunner* runner) {
  return [runner](std::string_view name, std::vector<std::string>, std::vector<std::string> args,
                  uint64_t timeout_ms, RedisClient::Callback callback) {
    runner->Run(name, std::move(args), timeout_ms, std::move(callback));
  };
}

SubjectOutcome ParseSubjectCountReply(const Result<RedisValue>& reply) {
  using Status = SubjectOutcome::Status;
  static constexpr Status kStatuses[] = {Status::kCounted, Status::kRefused, Status::kRefunded};
  SubjectOutcome o;
  StatusReply r = ReadStatusReply(reply, "subject_count", {7}, {"counted", "refused", "refunded"});
  if (!r.error.empty()) {
    o.error = std::move(r.error);
    return o;
  }
  const auto& e = *r.fields;
  o.status = kStatuses[r.status];
  o.metric = e[1].AsString();
  o.window_s = e[2].AsInt();
  o.count = e[3].AsInt();
  o.max = e[4].AsInt();
  o.retry_after_s = e[5].AsInt();
  o.repeat = e[6].AsInt() == 1;
  return o;
}

namespace {

// One request in flight: its calls' outcomes fill in as replies arrive, in any order.
struct Pending {
  SubjectCallContext ctx;
  std::vector<TaggedLimit> limits;
  SubjectCosts costs;
  int attempt = 0;
  SubjectDecision decision;
  size_t waiting = 0;
  size_t refunds_waiting = 0;
  std::function<void(SubjectDecision)> done;
};

// A refusal worth deciding again: another subject counted (and is refunded now) or had been
// refunded by this identity's earlier attempt (a repeat of a request that was decided again,
// which must find its second attempt's records as the first time did).
bool SecondTry(const SubjectDecision& d) {
  if (d.verdict.kind != CombinedVerdict::Kind::kRefuse) return false;
  for (const SubjectOutcome& o : d.outcomes) {
    if (o.status == SubjectOutcome::Status::kCounted ||
        o.status == SubjectOutcome::Status::kRefunded) {
      return true;
    }
  }
  return false;
}

}  // namespace

void ClusterDecision::Decide(const SubjectCallContext& ctx,
                             const std::vector<TaggedLimit>& limits, const SubjectCosts& costs,
                             std::function<void(SubjectDecision)> done) {
  SubjectCallContext at = ctx;
  if (at.now_ms <= 0) {
    at.now_ms = WallClockMs();
  }
  DecideAttempt(at, limits, costs, 0, std::move(done));
}

void ClusterDecision::DecideAttempt(const SubjectCallContext& ctx,
                                    std::vector<TaggedLimit> limits, const SubjectCosts& costs,
                                    int attempt, std::function<void(SubjectDecision)> done) {
  auto p = std::make_shared<Pending>();
  p->ctx = ctx;
  p->costs = costs;
  p->attempt = attempt;
  p->decision.message_id = ctx.message_id;
  p->decision.calls = PlanSubjectCalls(limits, costs);
  p->limits = std::move(limits);
  p->decision.outcomes.resize(p->decision.calls.size());
  p->waiting = p->decision.calls.size();
  p->done = std::move(done);
  if (p->waiting == 0) {
    p->decision.verdict = CombineSubjectOutcomes({});
    return p->done(std::move(p->decision));
  }
  // Every call is written before any reply is read: one round trip to each primary.
  for (size_t i = 0; i < p->decision.calls.size(); ++i) {
    const SubjectCall& call = p->decision.calls[i];
    call_("subject_count", SubjectCallKeys(ctx, call.tag),
          BuildSubjectCountArgs(ctx, call, costs), ctx.timeout_ms,
          [this, p, i](Result<RedisValue> reply) {
            p->decision.outcomes[i] = ParseSubjectCountReply(reply);
            if (--p->waiting > 0) return;
            SubjectDecision& d = p->decision;
            d.verdict = CombineSubjectOutcomes(d.outcomes);
            if (!(retry_refused_ && p->attempt == 0 && SecondTry(d))) {
              for (size_t r : d.verdict.refunds) Refund(p->ctx, d.calls[r].tag);
              return p->done(std::move(d));
            }
            // Decided again once this request's own refunds have landed: the counts it held
            // may be what refused a concurrent request, and theirs what refused it.
            auto again = [this, p] {
              ++second_tries_;
              SubjectCallContext next = p->ctx;
              next.message_id += "/2";
              DecideAttempt(next, std::move(p->limits), p->costs, 1, std::move(p->done));
            };
            if (d.verdict.refunds.empty()) return again();
            p->refunds_waiting = d.verdict.refunds.size();
            for (size_t r : d.verdict.refunds) {
              Refund(p->ctx, d.calls[r].tag, [p, again] {
                if (--p->refunds_waiting == 0) again();
              });
            }
          });
  }
}

void ClusterDecision::Refund(const SubjectCallContext& ctx, const std::string& tag,
                             std::function<void()> landed) {
  ++refunds_sent_;
  ++refunds_in_flight_;
  auto keys = SubjectCallKeys(ctx, tag);
  std::string key = keys.front();
  CallRetrying(&call_, "subject_refund", std::move(keys), BuildSubjectRefundArgs(ctx, tag),
               ctx.timeout_ms, kRefundAttempts,
               [this, key = std::move(key), landed = std::move(landed)](RetriedReply r) {
                 --refunds_in_flight_;
                 refund_retries_ += static_cast<uint64_t>(r.retries);
                 if (!r.reply.ok()) {
                   ++refunds_lost_;
                   // The count stays: it expires with its window; only refusals can come of it.
                   POLICYD_LOG_WARN("event=subject_refund_lost {} {}", LogField("key", key),
                                    LogField("error", r.reply.error().message));
                 }
                 if (landed) landed();
               });
}

}  // namespace policyd
