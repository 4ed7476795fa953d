#include "store/cluster_quota.h"

#include <memory>
#include <utility>

#include "log/log.h"
#include "store/retried_script_call.h"
#include "store/status_reply.h"

namespace policyd {

QuotaOutcome ParseQuotaReply(const Result<RedisValue>& reply) {
  using Status = QuotaOutcome::Status;
  static constexpr Status kStatuses[] = {Status::kCounted, Status::kRefused, Status::kRefunded,
                                         Status::kNone};
  QuotaOutcome o;
  // Mode check answers a 7th element: whether the month is unlocked.
  StatusReply r = ReadStatusReply(reply, "quota_count", {6, 7},
                                  {"counted", "refused", "refunded", "none"});
  if (!r.error.empty()) {
    o.error = std::move(r.error);
    return o;
  }
  const auto& e = *r.fields;
  o.status = kStatuses[r.status];
  o.used = e[1].AsInt();
  o.quota = e[2].AsInt();
  o.rule = e[3].AsString();
  o.warnings = e[4].AsString();
  o.repeat = e[5].AsInt() == 1;
  o.unlocked = e.size() == 7 && e[6].AsInt() == 1;
  return o;
}

struct ClusterQuota::Pending {
  QuotaCallContext ctx;
  std::vector<QuotaSubject> quotas;
  QuotaMode mode = QuotaMode::kCount;
  QuotaDecision decision;
  std::size_t waiting = 0;
  std::function<void(QuotaDecision)> done;
};

void ClusterQuota::Decide(const QuotaCallContext& ctx, const std::vector<QuotaSubject>& quotas,
                          QuotaMode mode, std::function<void(QuotaDecision)> done) {
  auto p = std::make_shared<Pending>();
  p->ctx = ctx;
  p->quotas = quotas;
  p->mode = mode;
  // A quota a counting decision never reached (an earlier one refused) stays kNone.
  QuotaOutcome none;
  none.status = QuotaOutcome::Status::kNone;
  p->decision.outcomes.assign(quotas.size(), none);
  p->waiting = quotas.size();
  p->done = std::move(done);
  if (p->waiting == 0) {
    p->decision.verdict = CombineQuotaOutcomes({});
    return p->done(std::move(p->decision));
  }
  if (mode == QuotaMode::kCount) return Call(p, 0);
  // Calls that write nothing: all at once.
  for (std::size_t i = 0; i < quotas.size(); ++i) Call(p, i);
}

void ClusterQuota::Call(const std::shared_ptr<Pending>& p, std::size_t i) {
  call_("quota_count", QuotaCallKeys(p->ctx, p->quotas[i].tag),
        BuildQuotaCallArgs(p->ctx, p->quotas[i], p->mode), p->ctx.subject.timeout_ms,
        [this, p, i](Result<RedisValue> reply) {
          QuotaOutcome& o = p->decision.outcomes[i];
          o = ParseQuotaReply(reply);
          bool counting = p->mode == QuotaMode::kCount;
          if (counting && i + 1 < p->quotas.size() &&
              (o.status == QuotaOutcome::Status::kCounted ||
               o.status == QuotaOutcome::Status::kNone)) {
            return Call(p, i + 1);
          }
          if (!counting && --p->waiting > 0) return;
          QuotaDecision& d = p->decision;
          d.verdict = CombineQuotaOutcomes(d.outcomes);
          if (counting) {
            for (std::size_t r : d.verdict.refunds) Refund(p->ctx, p->quotas[r]);
          }
          p->done(std::move(d));
        });
}

void ClusterQuota::Refund(const QuotaCallContext& ctx, const QuotaSubject& quota) {
  ++refunds_sent_;
  ++refunds_in_flight_;
  auto keys = QuotaCallKeys(ctx, quota.tag);
  std::string key = keys.front();
  CallRetrying(&call_, "quota_count", std::move(keys),
               BuildQuotaCallArgs(ctx, quota, QuotaMode::kRefund), ctx.subject.timeout_ms,
               kRefundAttempts, [this, key = std::move(key)](RetriedReply r) {
                 --refunds_in_flight_;
                 if (r.reply.ok()) return;
                 ++refunds_lost_;
                 POLICYD_LOG_WARN("event=quota_refund_lost {} {}", LogField("key", key),
                                  LogField("error", r.reply.error().message));
               });
}


}  // namespace policyd
