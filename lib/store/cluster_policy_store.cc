#include "store/cluster_policy_store.h"

#include <algorithm>
#include <chrono>
#include <string>
#include <utility>

#include "core/cluster_list_bombing.h"
#include "core/report_slot.h"
#include "core/report_token.h"
#include "store/cluster_explain.h"
#include "store/wall_clock.h"

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
    uint64_t timeout = config->server.request_timeout_ms;
    return ExplainOnCluster(loop_, cluster_, scripts_, std::move(config), request, options,
                            timeout, std::move(callback));
  }
  const DecisionFields fields = ReadDecisionFields(request);
  DecideSubjects subjects = ReadDecideSubjects(fields);
  // One clock for every slot of the decision (the reservations' slices are named by it).
  if (options.now_ms == 0) {
    options.now_ms = WallClockMs();
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
  access_.ReadOutcome(std::move(access_args), timeout,
                      [this, r](Result<AccessOutcome> outcome) {
                        if (!outcome.ok()) return r->Fail(outcome.error());
                        Decided(r, std::move(*outcome));
                      });
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
  RefusalReportCall call = RefusalReportOf(o, r->args, /*create=*/true);
  scripts_->Run("refusal_report", std::move(call.route_key), std::move(call.args), Left(*r),
                [r, parts = std::move(call.parts)](Result<RedisValue> reply) mutable {
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
  ctx.transaction_id = r->stage.message;
  auto decided = [this, r](SubjectDecision d) {
    switch (d.verdict.kind) {
      case CombinedVerdict::Kind::kAdmit: {
        bool repeat = !d.outcomes.empty();
        for (const SubjectOutcome& o : d.outcomes) repeat = repeat && o.repeat;
        return Admitted(r, repeat);
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
  // With count_at = rcpt every admitted RCPT comes here; sent_count.lua counts its message
  // once (as decide.lua counts at the first admitted RCPT only).
  // Its mark is in the subject's reservation slices: declared with the sent key, as
  // subject_count declares them (SubjectCallKeys), so a slot migration cannot split them.
  SubjectCallContext ctx;
  ctx.prefix = a[kArgPrefix];
  ctx.now_ms = std::stoll(a[1]);
  ctx.reservation_ms = std::max<int64_t>(r.config->policy.dedup_ttl_ms, 1000);
  std::string span = std::to_string(ctx.reservation_ms);
  for (const std::string& tag : SentTags(a, r.account)) {
    std::vector<std::string> keys{a[kArgPrefix] + "sent:{" + tag + "}"};
    if (!r.stage.message.empty()) {
      std::vector<std::string> slices = SubjectCallKeys(ctx, tag);
      keys.insert(keys.end(), slices.begin() + 1, slices.end());
    }
    scripts_->Run("sent_count", std::move(keys),
                  {a[kArgPrefix], tag, a[1], a[28], r.stage.message, span}, Left(r),
                  [](Result<RedisValue>) {});
  }
}

void ClusterPolicyStore::Admitted(const std::shared_ptr<Request>& r, bool repeat) {
  std::optional<ListBombingCall> call =
      BuildListBombingCall(r->args, r->stage.identity, NewReportId(r->args[kArgSubject]));
  if (!call) {
    if (!repeat && r->stage.costs.messages > 0) CountSent(*r);
    return r->Answer(Parts("dunno", repeat ? "counted (repeat)" : "counted"));
  }
  scripts_->Run("list_bombing", std::move(call->keys), std::move(call->args), Left(*r),
                [this, r, repeat](Result<RedisValue> reply) {
                  // The admission stands whether or not its list-bombing was recorded (the
                  // subjects counted it): a lost record only lets list-bombing fire later.
                  bool answered = false;
                  std::string created;
                  if (reply.ok() && reply->elements.size() == 2) {
                    answered = reply->elements[0].AsInt() == 1;
                    created = reply->elements[1].AsString();
                  }
                  // A repeat of a request with no subject to count (no limits) is known
                  // here only: decide.lua answers it as a repeat.
                  bool again = repeat || answered;
                  if (!again && r->stage.costs.messages > 0) CountSent(*r);
                  ReplyParts parts = Parts("dunno", again ? "counted (repeat)" : "counted");
                  parts.created_block = std::move(created);
                  r->Answer(parts);
                });
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
                Left(*r),
                [r, subject, refusal = std::move(refusal)](Result<RedisValue> reply) mutable {
                  // The refusal stands whether or not its evidence was recorded.
                  if (!reply.ok() || reply->elements.size() != 1 ||
                      reply->elements[0].elements.size() != 5) {
                    return r->Answer(refusal.parts);
                  }
                  const std::vector<RedisValue>& e = reply->elements[0].elements;
                  if (e[2].AsInt() == 1) {
                    refusal.parts.created_block = "rate";
                  } else if (e[1].AsInt() == 1) {
                    // Blocked by another request since this one's access facts were read:
                    // the block is the answer, as decide.lua reading both at once gives.
                    return r->Answer(Parts("block",
                                           "block " + subject + " reason=" + e[3].AsString(),
                                           e[4].AsString()));
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
  // repeat finds them whichever attempt of the rates admitted. With count_at = rcpt by the
  // message's (as decide.lua, a message costs its quota once, at its first counted RCPT; the
  // next RCPTs find it counted); then a record found is no repeat of this request.
  bool own = r->stage.message.empty();
  quota_.Decide(
      QuotaContext(*r, own ? ctx.message_id : r->stage.message), r->quotas,
      admitted ? QuotaMode::kCount : QuotaMode::kLookup,
      [this, r, ctx, own, rates, decided = std::move(decided)](QuotaDecision q) {
        const QuotaVerdict& v = q.verdict;
        SubjectDecision& d = *rates;
        bool repeat = own && v.kind == QuotaVerdict::Kind::kRefuse &&
                      q.outcomes[v.deciding].repeat;
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
            if (own && d.outcomes.empty() && v.repeat) {
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
