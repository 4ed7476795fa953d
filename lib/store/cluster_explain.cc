#include "store/cluster_explain.h"

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/cluster_explain.h"
#include "core/cluster_verdict.h"
#include "store/cluster_access.h"
#include "store/cluster_decision.h"
#include "store/cluster_quota.h"
#include "store/wall_clock.h"

namespace policyd {
namespace {

// One explain in flight; it owns its ClusterAccess, which lives as long as its reads (they
// hold this state through their callbacks).
struct ExplainCall {
  ExplainCall(uv_loop_t* loop, ClusterClient* cluster, ClusterScriptRunner* scripts)
      : access(loop, cluster, scripts), scripts(scripts), quotas(ClusterSubjectCall(scripts)) {}

  ClusterAccess access;
  ClusterScriptRunner* scripts;
  ClusterQuota quotas;  // mode check only: nothing written
  std::shared_ptr<const Config> config;
  std::vector<std::string> args;  // decide.lua's ARGV 1-32, mode 'explain'
  std::string user;               // sasl_username as sent
  uint64_t timeout_ms = 0;
  std::function<void(Result<Verdict>)> callback;

  void Answer(const ReplyParts& parts, std::string facts) {
    Result<Verdict> v = ClusterVerdict(parts, args);
    if (v.ok()) {
      v->user = user;
      v->facts = std::move(facts);
    }
    auto cb = std::move(callback);
    cb(std::move(v));
  }
  void Fail(Error e) {
    auto cb = std::move(callback);
    cb(std::move(e));
  }
};

void OnExplainAccess(const std::shared_ptr<ExplainCall>& x, AccessOutcome o);
void LookUpReport(const std::shared_ptr<ExplainCall>& x, AccessOutcome o);
void ReadWindows(const std::shared_ptr<ExplainCall>& x, AccessOutcome o);
void ReadQuotas(const std::shared_ptr<ExplainCall>& x, std::vector<QuotaSubject> quotas,
                int64_t messages, ClusterExplanation rates);

void OnExplainAccess(const std::shared_ptr<ExplainCall>& x, AccessOutcome o) {
  if (o.kind == "block") {
    return x->Answer(Parts("block", "block " + o.block_tag + " reason=" + o.block_reason,
                           o.block_report),
                     std::move(o.facts));
  }
  if (o.kind == "unknown_dunno") return x->Answer(Parts("dunno", "unknown-user dunno"), o.facts);
  if (o.kind == "ip" || o.kind == "acl") return LookUpReport(x, std::move(o));
  ReadWindows(x, std::move(o));
}

// decide.lua's explain names the refusal's existing report ('' none): looked up only.
void LookUpReport(const std::shared_ptr<ExplainCall>& x, AccessOutcome o) {
  RefusalReportCall call = RefusalReportOf(o, x->args, /*create=*/false);
  x->scripts->Run("refusal_report", std::move(call.route_key), std::move(call.args),
                  x->timeout_ms,
                  [x, parts = std::move(call.parts), facts = std::move(o.facts)](
                      Result<RedisValue> reply) mutable {
                    if (!reply.ok()) return x->Fail(reply.error());
                    parts.report = reply->AsString();
                    x->Answer(parts, std::move(facts));
                  });
}

void ReadWindows(const std::shared_ptr<ExplainCall>& x, AccessOutcome o) {
  std::optional<RateStage> stage = ReadRateStage(x->args);
  if (!stage) return x->Answer(Parts("dunno", "no rate check at this stage"), o.facts);
  struct Reads {
    RateStage stage;
    std::vector<TaggedLimit> limits;
    std::vector<std::string> kinds;
    std::vector<SubjectCall> calls;
    std::vector<std::string> replies;
    std::optional<Error> error;
    std::size_t waiting = 0;
    std::string access_facts;
    std::vector<QuotaSubject> quotas;
  };
  auto r = std::make_shared<Reads>();
  r->stage = std::move(*stage);
  r->limits = RequestLimits(o.limits, x->args, o.account, &r->kinds);
  r->calls = SubjectCallsByTag(r->limits);
  r->replies.resize(r->calls.size());
  r->waiting = r->calls.size();
  r->quotas = RequestQuotas(o, x->args);
  r->access_facts = std::move(o.facts);
  auto finish = [x, r] {
    if (r->error) return x->Fail(*r->error);
    Result<ClusterExplanation> e =
        ExplainRates(r->access_facts, r->stage, r->limits, r->kinds, r->calls, r->replies);
    if (!e.ok()) return x->Fail(e.error());
    if (r->quotas.empty()) return x->Answer(e->parts, std::move(e->facts));
    ReadQuotas(x, std::move(r->quotas), r->stage.costs.messages, std::move(*e));
  };
  if (r->waiting == 0) return finish();
  SubjectCallContext ctx;
  ctx.prefix = x->args[kArgPrefix];
  ctx.buckets = x->config->policy.buckets;
  ctx.now_ms = std::stoll(x->args[1]);
  for (std::size_t i = 0; i < r->calls.size(); ++i) {
    x->scripts->Run("subject_explain", SubjectRouteKey(ctx.prefix, r->calls[i].tag),
                    BuildSubjectCountArgs(ctx, r->calls[i], r->stage.costs), x->timeout_ms,
                    [r, i, finish](Result<RedisValue> reply) {
                      if (!reply.ok()) {
                        if (!r->error) r->error = reply.error();
                      } else {
                        r->replies[i] = reply->AsString();
                      }
                      if (--r->waiting == 0) finish();
                    });
  }
}

// decide.lua's section 4b, read only: each quota checked in its slot (quota_count.lua in
// mode check, all at once), then facts.quota and a quota verdict (ExplainQuotas).
void ReadQuotas(const std::shared_ptr<ExplainCall>& x, std::vector<QuotaSubject> quotas,
                int64_t messages, ClusterExplanation rates) {
  QuotaCallContext ctx;
  ctx.subject.prefix = x->args[kArgPrefix];
  ctx.subject.reservation_ms = std::max<int64_t>(x->config->policy.dedup_ttl_ms, 1000);
  ctx.subject.now_ms = std::stoll(x->args[1]);
  ctx.subject.timeout_ms = x->timeout_ms;
  ctx.quota_spec = x->args[30];  // decide.lua ARGV[31]
  ctx.abuse_spec = x->args[22];  // ARGV[23]
  ctx.messages = messages;
  std::string period = QuotaPeriod(ctx.subject.now_ms, QuotaSpecOffset(ctx.quota_spec));
  auto list = std::make_shared<std::vector<QuotaSubject>>(quotas);
  x->quotas.Decide(ctx, quotas, QuotaMode::kCheck,
                   [x, list, period, rates = std::move(rates)](QuotaDecision d) mutable {
                     Result<ClusterExplanation> e =
                         ExplainQuotas(std::move(rates), *list, d.outcomes, period);
                     if (!e.ok()) return x->Fail(e.error());
                     x->Answer(e->parts, std::move(e->facts));
                   });
}

}  // namespace

void ExplainOnCluster(uv_loop_t* loop, ClusterClient* cluster, ClusterScriptRunner* scripts,
                      std::shared_ptr<const Config> config, const PolicyRequest& request,
                      DecideOptions options, uint64_t timeout_ms,
                      std::function<void(Result<Verdict>)> callback) {
  options.mode = DecideMode::kExplain;
  // One clock for every slot's part (decide.lua reads one TIME).
  if (options.now_ms == 0) {
    options.now_ms = WallClockMs();
  }
  auto x = std::make_shared<ExplainCall>(loop, cluster, scripts);
  x->args = BuildDecideArgs(request, *config, options, PlansSpec(*config), AbuseSpec(*config));
  x->config = std::move(config);
  x->user = std::string(request.SaslUsername());
  x->timeout_ms = timeout_ms;
  x->callback = std::move(callback);
  std::vector<std::string> access_args(x->args.begin(), x->args.begin() + 31);
  x->access.ReadOutcome(std::move(access_args), timeout_ms, [x](Result<AccessOutcome> outcome) {
    if (!outcome.ok()) return x->Fail(outcome.error());
    if (outcome->facts.empty()) {  // explain mode always answers its facts
      return x->Fail(Error{ErrorCode::kInternal, "access_decide: no facts in explain mode"});
    }
    OnExplainAccess(x, std::move(*outcome));
  });
}

}  // namespace policyd
