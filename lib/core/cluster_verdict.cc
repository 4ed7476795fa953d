#include "core/cluster_verdict.h"

#include <fmt/format.h>

#include <charconv>
#include <utility>

namespace policyd {
namespace {

int64_t ToInt(const std::string& s) {
  int64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

}  // namespace

std::optional<AccessOutcome> ParseAccessOutcome(const std::vector<std::string>& reply) {
  if (reply.size() != 11 && reply.size() != 12) return std::nullopt;
  AccessOutcome o;
  o.kind = reply[0];
  if (o.kind != "pass" && o.kind != "block" && o.kind != "unknown_dunno" && o.kind != "ip" &&
      o.kind != "acl") {
    return std::nullopt;
  }
  std::optional<std::vector<ResolvedLimit>> limits = ParseResolvedLimits(reply[1]);
  if (!limits) return std::nullopt;
  o.limits = std::move(*limits);
  o.account = reply[2];
  o.user_quota = reply[3];
  o.account_quota = reply[4];
  o.block_tag = reply[5];
  o.block_reason = reply[6];
  o.block_report = reply[7];
  o.acl_reason = reply[8];
  o.report_mode = reply[9];
  o.plan_name = reply[10];
  if (reply.size() == 12) o.facts = reply[11];
  return o;
}

std::optional<RateStage> ReadRateStage(const std::vector<std::string>& args) {
  const std::string& stage = args[3];
  const std::string& count_at = args[4];
  int64_t rcpt_count = ToInt(args[10]), size = ToInt(args[11]);
  RateStage r;
  if (stage == "eom" && count_at == "eom") {
    r.costs = {1, rcpt_count, size};
    r.counting = true;
    r.identity = args[12];
  } else if (stage == "rcpt" && count_at == "rcpt") {
    // The most a RCPT costs: decide.lua counts the message (and its size) at its first
    // counted RCPT only, which each subject's call decides by its mark of `message`.
    r.costs = {1, 1, size};
    r.counting = true;
    r.identity = args[13];
    r.message = args[12];
  } else if (stage == "rcpt") {
    r.costs = {1, 1, size};
  } else {
    return std::nullopt;
  }
  return r;
}

std::vector<TaggedLimit> RequestLimits(const std::vector<ResolvedLimit>& limits,
                                       const std::vector<std::string>& args,
                                       const std::string& account,
                                       std::vector<std::string>* kinds) {
  std::vector<TaggedLimit> out;
  kinds->clear();
  for (const ResolvedLimit& l : limits) {
    std::string tag;
    if (l.subject == "user") {
      tag = args[kArgSubject];
    } else if (l.subject == "sender") {
      tag = args[kArgSenderTag];
    } else if (l.subject == "ip") {
      tag = args[8];
    } else if (l.subject == "account" && !account.empty()) {
      tag = "account:" + account;
    }
    if (tag.empty()) continue;
    out.push_back({std::move(tag), {l.metric, ToInt(l.window_s), static_cast<int64_t>(l.max)}});
    kinds->push_back(l.subject);
  }
  return out;
}

std::vector<std::string> SentTags(const std::vector<std::string>& args,
                                  const std::string& account) {
  std::vector<std::string> tags{args[kArgSubject]};
  if (!args[kArgSenderTag].empty() && args[kArgSenderTag] != args[kArgSubject]) {
    tags.push_back(args[kArgSenderTag]);
  }
  if (!account.empty()) tags.push_back("account:" + account);
  return tags;
}

ReplyParts Parts(std::string action, std::string rule, std::string report) {
  ReplyParts p;
  p.action = std::move(action);
  p.rule = std::move(rule);
  p.report = std::move(report);
  return p;
}

Result<Verdict> ClusterVerdict(const ReplyParts& p, const std::vector<std::string>& args) {
  return ParseDecideReply({p.action, p.rule, p.report, args[kArgDomain], p.metric,
                           std::to_string(p.count), std::to_string(p.max),
                           std::to_string(p.window_s), std::to_string(p.retry_after), "",
                           p.created_block, p.quota_warnings});
}

RefusalReportCall RefusalReportOf(const AccessOutcome& o, const std::vector<std::string>& a,
                                  bool create) {
  const std::string& prefix = a[kArgPrefix];
  const std::string& subject = a[kArgSubject];
  bool ip = o.kind == "ip";
  RefusalReportCall call;
  // The dedup key routes the call: refusal_report.lua's keys share the subject's hash tag.
  call.route_key = prefix + (ip ? "iprep:{" : "aclrep:{") + subject + "}:" +
                   (ip ? a[kArgClientHex] : a[kArgDomain]);
  call.args = {prefix,        o.kind,      subject,     a[23], a[kArgClientHex], a[kArgDomain],
               a[25],         a[24],       a[1],        o.acl_reason,     o.report_mode,
               o.account,     o.plan_name, a[19],       a[20],            a[21],
               create ? "1" : "0"};
  if (ip) {
    call.parts = Parts("ip", "ip " + a[23] + " not in allow-list");
  } else {
    call.parts = Parts("acl", "acl " + o.acl_reason);
  }
  return call;
}

RateRefusal RateRefusalOf(const SubjectCall& call, const SubjectOutcome& o,
                          const std::vector<TaggedLimit>& limits,
                          const std::vector<std::string>& kinds) {
  std::string kind;
  for (std::size_t i = 0; i < limits.size(); ++i) {
    if (limits[i].tag == call.tag && limits[i].limit.metric == o.metric &&
        limits[i].limit.window_s == o.window_s && limits[i].limit.max == o.max) {
      kind = kinds[i];
      break;
    }
  }
  RateRefusal r;
  r.parts.action = "rate";
  r.parts.rule = fmt::format("rate {}.{}.{}s", kind, o.metric, o.window_s);
  r.parts.metric = o.metric;
  r.parts.count = o.count;
  r.parts.max = o.max;
  r.parts.window_s = o.window_s;
  r.parts.retry_after = o.retry_after_s;
  r.evidence = fmt::format("{} {}/{} per {}s ({})", o.metric, o.count, o.max, o.window_s, kind);
  r.repeat = o.repeat;
  return r;
}

}  // namespace policyd
