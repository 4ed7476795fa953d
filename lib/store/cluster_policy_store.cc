#include "store/cluster_policy_store.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "core/report_slot.h"
#include "core/report_token.h"

namespace policyd {

struct ClusterPolicyStore::Request {
  std::shared_ptr<const Config> config;
  std::vector<std::string> args;  // decide.lua's ARGV 1-32
  std::string user;               // sasl_username as sent
  uint64_t deadline = 0;          // uv_now
  Callback callback;
  RateStage stage;
  std::vector<TaggedLimit> limits;
  std::vector<std::string> kinds;  // each limit's subject word
  std::string account;             // '' none
  std::vector<QuotaSubject> quotas;  // the user's and the account's monthly quotas
  std::string quota_warnings;        // the levels an admitted message crossed

  void Answer(const ReplyParts& parts) {
    Result<Verdict> v = ClusterVerdict(parts, args);
    if (v.ok()) v->user = user;
    if (v.ok() && v->quota_warnings.empty()) v->quota_warnings = quota_warnings;
    Callback cb = std::move(callback);
    cb(std::move(v));
  }
  void Fail(Error e) {
    Callback cb = std::move(callback);
    cb(std::move(e));
  }
};

uint64_t ClusterPolicyStore::Left(const Request& r) const {
  uint64_t now = uv_now(loop_);
  return now + 1 < r.deadline ? r.deadline - now : 1;
}

void ClusterPolicyStore::Decide(std::shared_ptr<const Config> config,
                                const PolicyRequest& request, Callback callback,
                                DecideOptions options) {
  if (std::optional<Verdict> local = DecideLocally(request, *config)) {
    local->user = request.SaslUsername();
    return callback(std::move(*local));
  }
  if (options.mode == DecideMode::kExplain) {
    return callback(Error{ErrorCode::kUnavailable, "explain is not built on Redis Cluster yet"});
  }
  (void)cluster_;
  const DecisionFields fields = ReadDecisionFields(request);
  DecideSubjects subjects = ReadDecideSubjects(fields);
  // One clock for every slot of the decision (the reservations' slices are named by it).
  if (options.now_ms == 0) {
    options.now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
  }
  // A report this decision creates lives in the user's slot, with the user's other keys.
  options.report_id = NewReportId(subjects.subject);
  auto r = std::make_shared<Request>();
  r->config = std::move(config);
  const DecideSpecsCache::Specs& specs = specs_.For(r->config);
  r->args = BuildDecideArgs(fields, std::move(subjects), *r->config, options, specs.plans,
                            specs.abuse);
  r->user = std::string(request.SaslUsername());
  uint64_t timeout = r->config->server.request_timeout_ms;
  r->deadline = uv_now(loop_) + timeout;
  r->callback = std::move(callback);
  std::vector<std::string> access_args(r->args.begin(), r->args.begin() + 31);
  access_.Read(
      std::move(access_args), timeout,
      [this, r](Result<std::vector<std::string>> reply) {
        if (!reply.ok()) return r->Fail(reply.error());
        std::optional<AccessOutcome> outcome = ParseAccessOutcome(*reply);
        if (!outcome) {
          return r->Fail(Error{ErrorCode::kInternal, "access_decide: unexpected reply"});
        }
        Decided(r, std::move(*outcome));
      },
      "access_decide");
}

void ClusterPolicyStore::Decided(const std::shared_ptr<Request>& r, AccessOutcome outcome) {
  if (outcome.kind == "block") {
    return r->Answer(Parts("block",
                           "block " + outcome.block_tag + " reason=" + outcome.block_reason,
                           outcome.block_report));
  }
  if (outcome.kind == "unknown_dunno") {
    return r->Answer(Parts("dunno", "unknown-user dunno"));
  }
  if (outcome.kind == "ip" || outcome.kind == "acl") return Report(r, outcome);
  Rates(r, outcome);
}

void ClusterPolicyStore::Report(const std::shared_ptr<Request>& r, const AccessOutcome& o) {
  const std::vector<std::string>& a = r->args;
  const std::string& prefix = a[kArgPrefix];
  const std::string& subject = a[kArgSubject];
  // The dedup key routes the call: refusal_report.lua's keys share the subject's hash tag.
  std::string dedup = prefix + (o.kind == "ip" ? "iprep:{" : "aclrep:{") + subject + "}:" +
                      (o.kind == "ip" ? a[kArgClientHex] : a[kArgDomain]);
  std::vector<std::string> args{prefix, o.kind,         subject,      a[23],    a[kArgClientHex],
                                a[kArgDomain], a[25],   a[24],        a[1],     o.acl_reason,
                                o.report_mode, o.account, o.plan_name, a[19],  a[20],
                                a[21]};
  ReplyParts parts;
  if (o.kind == "ip") {
    parts.action = "ip";
    parts.rule = "ip " + a[23] + " not in allow-list";
  } else {
    parts.action = "acl";
    parts.rule = "acl " + o.acl_reason;
  }
  scripts_->Run("refusal_report", std::move(dedup), std::move(args), Left(*r),
                [r, parts = std::move(parts)](Result<RedisValue> reply) mutable {
                  if (!reply.ok()) return r->Fail(reply.error());
                  parts.report = reply->AsString();
                  r->Answer(parts);
                });
}

void ClusterPolicyStore::Rates(const std::shared_ptr<Request>& r, const AccessOutcome& o) {
  std::optional<RateStage> stage = ReadRateStage(r->args);
  if (!stage) return r->Answer(Parts("dunno", "no rate check at this stage"));
  r->stage = std::move(*stage);
  r->limits = RequestLimits(o.limits, r->args, o.account, &r->kinds);
  r->account = o.account;
  r->quotas = RequestQuotas(o, r->args);
  if (!r->stage.counting) return Precheck(r);
  SubjectCallContext ctx;
  ctx.prefix = r->args[kArgPrefix];
  // A request without a message identity (no instance attribute) is its own.
  ctx.message_id = r->stage.identity.empty() ? NewReportId() : r->stage.identity;
  ctx.buckets = r->config->policy.buckets;
  ctx.reservation_ms = std::max<int64_t>(r->config->policy.dedup_ttl_ms, 1000);
  ctx.now_ms = std::stoll(r->args[1]);
  ctx.timeout_ms = r->config->server.request_timeout_ms;
  auto decided = [this, r](SubjectDecision d) {
    switch (d.verdict.kind) {
      case CombinedVerdict::Kind::kAdmit: {
        bool repeat = !d.outcomes.empty();
        for (const SubjectOutcome& o : d.outcomes) repeat = repeat && o.repeat;
        if (!repeat && r->stage.costs.messages > 0) CountSent(*r);
        return r->Answer(Parts("dunno", repeat ? "counted (repeat)" : "counted"));
      }
      case CombinedVerdict::Kind::kRefuse:
        return Throttled(r, RateRefusalOf(d.calls[d.verdict.deciding],
                                          d.outcomes[d.verdict.deciding], r->limits, r->kinds));
      case CombinedVerdict::Kind::kFailure:
        return r->Fail(Error{ErrorCode::kUnavailable,
                             "rate check failed: " + d.outcomes[d.verdict.deciding].error});
      case CombinedVerdict::Kind::kGivenUp:
        return r->Fail(Error{ErrorCode::kUnavailable,
                             "rate check: an earlier attempt of this request was given up"});
    }
  };
  decision_.Decide(ctx, r->limits, r->stage.costs,
                   [this, r, ctx, decided = std::move(decided)](SubjectDecision d) {
                     Quotas(r, ctx, std::move(d), decided);
                   });
}

void ClusterPolicyStore::CountSent(const Request& r) {
  const std::vector<std::string>& a = r.args;
  if (a[28].empty()) return;  // no [abuse] rates
  for (const std::string& tag : SentTags(a, r.account)) {
    scripts_->Run("sent_count", a[kArgPrefix] + "sent:{" + tag + "}",
                  {a[kArgPrefix], tag, a[1], a[28]}, Left(r), [](Result<RedisValue>) {});
  }
}

void ClusterPolicyStore::Precheck(const std::shared_ptr<Request>& r) {
  struct Checks {
    std::vector<SubjectCall> calls;
    std::vector<SubjectOutcome> outcomes;
    std::size_t waiting = 0;
  };
  auto c = std::make_shared<Checks>();
  c->calls = PlanSubjectCalls(r->limits, r->stage.costs);
  c->outcomes.resize(c->calls.size());
  c->waiting = c->calls.size();
  if (c->waiting == 0) return PrecheckQuotas(r);
  SubjectCallContext ctx;
  ctx.prefix = r->args[kArgPrefix];
  ctx.message_id = "";  // subject_count.lua: check only, nothing written
  ctx.buckets = r->config->policy.buckets;
  ctx.now_ms = std::stoll(r->args[1]);
  SubjectScriptCall call = ClusterSubjectCall(scripts_);
  for (std::size_t i = 0; i < c->calls.size(); ++i) {
    call("subject_count", SubjectCallKeys(ctx, c->calls[i].tag),
         BuildSubjectCountArgs(ctx, c->calls[i], r->stage.costs), Left(*r),
         [this, r, c, i](Result<RedisValue> reply) {
           c->outcomes[i] = ParseSubjectCountReply(reply);
           if (--c->waiting > 0) return;
           CombinedVerdict v = CombineSubjectOutcomes(c->outcomes);
           if (v.kind == CombinedVerdict::Kind::kAdmit) return PrecheckQuotas(r);
           if (v.kind == CombinedVerdict::Kind::kRefuse) {
             return Throttled(r, RateRefusalOf(c->calls[v.deciding], c->outcomes[v.deciding],
                                               r->limits, r->kinds));
           }
           r->Fail(Error{ErrorCode::kUnavailable,
                         "rate pre-check failed: " + c->outcomes[v.deciding].error});
         });
  }
}

void ClusterPolicyStore::Throttled(const std::shared_ptr<Request>& r, RateRefusal refusal) {
  if (refusal.repeat) {
    refusal.parts.rule += " (repeat)";
    return r->Answer(refusal.parts);
  }
  const std::vector<std::string>& a = r->args;
  const std::string& prefix = a[kArgPrefix];
  const std::string& subject = a[kArgSubject];
  // Evidence and escalation in the user's slot: its throttle list, block and the block's
  // report (an id of that slot) share the subject's hash tag; events go to its slot's outbox.
  std::vector<std::string> args{prefix,
                                a[22],
                                a[1],
                                a[20],
                                std::string(SubjectSlotTag(subject)),
                                subject,
                                "1",
                                NewReportId(subject),
                                refusal.evidence};
  scripts_->Run("record_throttles", prefix + "throttles:{" + subject + "}", std::move(args),
                Left(*r), [r, refusal = std::move(refusal)](Result<RedisValue> reply) mutable {
                  // The refusal stands whether or not its evidence was recorded.
                  if (reply.ok() && reply->elements.size() == 1 &&
                      reply->elements[0].elements.size() == 2 &&
                      reply->elements[0].elements[0].AsInt() == 0 &&
                      reply->elements[0].elements[1].AsInt() == 1) {
                    refusal.parts.created_block = "rate";
                  }
                  r->Answer(refusal.parts);
                });
}

QuotaCallContext ClusterPolicyStore::QuotaContext(const Request& r,
                                                 const std::string& message_id) const {
  QuotaCallContext q;
  q.subject.prefix = r.args[kArgPrefix];
  q.subject.message_id = message_id;
  q.subject.reservation_ms = std::max<int64_t>(r.config->policy.dedup_ttl_ms, 1000);
  q.subject.now_ms = std::stoll(r.args[1]);
  q.subject.timeout_ms = Left(r);
  q.quota_spec = r.args[30];  // decide.lua ARGV[31]
  q.abuse_spec = r.args[22];  // ARGV[23]
  q.messages = r.stage.costs.messages;
  return q;
}

void ClusterPolicyStore::Quotas(const std::shared_ptr<Request>& r, const SubjectCallContext& ctx,
                                SubjectDecision d, std::function<void(SubjectDecision)> decided) {
  using Kind = CombinedVerdict::Kind;
  bool admitted = d.verdict.kind == Kind::kAdmit;
  if (r->quotas.empty() || (!admitted && d.verdict.kind != Kind::kGivenUp)) {
    return decided(std::move(d));
  }
  auto rates = std::make_shared<SubjectDecision>(std::move(d));
  // The quota records are keyed by the request's identity, not a rate second try's: a
  // repeat finds them whichever attempt of the rates admitted.
  quota_.Decide(
      QuotaContext(*r, ctx.message_id), r->quotas,
      admitted ? QuotaMode::kCount : QuotaMode::kLookup,
      [this, r, ctx, rates, decided = std::move(decided)](QuotaDecision q) {
        const QuotaVerdict& v = q.verdict;
        SubjectDecision& d = *rates;
        bool repeat = v.kind == QuotaVerdict::Kind::kRefuse && q.outcomes[v.deciding].repeat;
        ReplyParts parts = v.parts;
        if (repeat) parts.rule += " (repeat)";
        if (d.verdict.kind == Kind::kGivenUp) {
          // The rates were refunded by an earlier attempt: a quota refused it, or else the
          // rates' own answer stands.
          if (repeat) return r->Answer(parts);
          return decided(std::move(d));
        }
        switch (v.kind) {
          case QuotaVerdict::Kind::kAdmit:
            r->quota_warnings = v.warnings;
            // Without rate subjects only the quotas know a repeat.
            if (d.outcomes.empty() && v.repeat) {
              return r->Answer(Parts("dunno", "counted (repeat)"));
            }
            return decided(std::move(d));
          case QuotaVerdict::Kind::kRefuse:
          case QuotaVerdict::Kind::kFailure:
          case QuotaVerdict::Kind::kGivenUp: {
            // Not admitted: what the rates counted for it goes back (under the identity the
            // counts are under: a second try's).
            SubjectCallContext counted = ctx;
            counted.message_id = d.message_id;
            for (std::size_t i = 0; i < d.calls.size(); ++i) {
              const SubjectOutcome& o = d.outcomes[i];
              if (o.status == SubjectOutcome::Status::kCounted && !o.repeat) {
                decision_.Refund(counted, d.calls[i].tag);
              }
            }
            break;
          }
        }
        if (v.kind == QuotaVerdict::Kind::kRefuse) return r->Answer(parts);
        if (v.kind == QuotaVerdict::Kind::kFailure) {
          return r->Fail(Error{ErrorCode::kUnavailable,
                               "quota check failed: " + q.outcomes[v.deciding].error});
        }
        r->Fail(Error{ErrorCode::kUnavailable,
                      "quota check: an earlier attempt of this request was given up"});
      });
}

void ClusterPolicyStore::PrecheckQuotas(const std::shared_ptr<Request>& r) {
  if (r->quotas.empty()) return r->Answer(Parts("dunno", "pre-check within limits"));
  quota_.Decide(QuotaContext(*r, ""), r->quotas, QuotaMode::kCheck, [r](QuotaDecision q) {
    const QuotaVerdict& v = q.verdict;
    if (v.kind == QuotaVerdict::Kind::kRefuse) return r->Answer(v.parts);
    if (v.kind == QuotaVerdict::Kind::kAdmit) {
      return r->Answer(Parts("dunno", "pre-check within limits"));
    }
    r->Fail(Error{ErrorCode::kUnavailable,
                  "quota pre-check failed: " + q.outcomes[v.deciding].error});
  });
}

}  // namespace policyd
