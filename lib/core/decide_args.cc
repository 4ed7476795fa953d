#include "core/decide_args.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <memory>

#include "core/decision_fields.h"
#include "core/hex.h"
#include "core/ip_allow_list.h"
#include "core/quota.h"
#include "core/redis_keys.h"

namespace policyd {
namespace {

// Fetched once: EVP_sha256() makes OpenSSL 3 look the implementation up in its provider
// store (locks, a hash lookup) on every digest, which cost more than hashing these few bytes.
const EVP_MD* Sha256() {
  static EVP_MD* const md = EVP_MD_fetch(nullptr, "SHA256", nullptr);
  return md != nullptr ? md : EVP_sha256();
}

std::string HashHex(std::string_view data) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  // One context per thread, reused: EVP_Digest allocates and frees one per call.
  thread_local std::unique_ptr<EVP_MD_CTX, decltype(&EVP_MD_CTX_free)> ctx(EVP_MD_CTX_new(),
                                                                          &EVP_MD_CTX_free);
  if (ctx == nullptr || EVP_DigestInit_ex2(ctx.get(), Sha256(), nullptr) != 1 ||
      EVP_DigestUpdate(ctx.get(), data.data(), data.size()) != 1 ||
      EVP_DigestFinal_ex(ctx.get(), md, &len) != 1) {
    EVP_Digest(data.data(), data.size(), md, &len, Sha256(), nullptr);
  }
  return HexLower(md, std::min(len, 16u));  // 128 bits: collisions are not a concern
}

std::string IdentityText(const DecisionFields& r) {
  std::string s;
  for (std::string_view part : {r.instance, r.client_address, r.client_port, r.sasl_username}) {
    s.append(part);
    s.push_back('\0');
  }
  return s;
}

uint64_t ToUint(const std::string& s) {
  uint64_t v = 0;
  std::from_chars(s.data(), s.data() + s.size(), v);
  return v;
}

Verdict LocalVerdict(Action action, std::string rule) {
  Verdict v;
  v.action = action;
  v.rule = std::move(rule);
  return v;
}

// parse_score reads numbers with the Lua pattern [%d%.]+: never an exponent, never "inf".
std::string PlainNumber(double v) {
  if (!std::isfinite(v)) v = std::numeric_limits<double>::max();
  std::string s = fmt::format("{:.15f}", v);
  while (s.back() == '0') s.pop_back();
  if (s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

std::optional<Verdict> DecideLocally(const PolicyRequest& request, const Config& config) {
  if (request.State() == ProtocolState::kOther) {
    return LocalVerdict(Action::kDunno, "stage not checked");
  }
  if (!request.SaslUsername().empty()) return std::nullopt;
  switch (config.policy.unauthenticated) {
    case UnauthenticatedPolicy::kDunno:
      return LocalVerdict(Action::kDunno, "unauthenticated dunno");
    case UnauthenticatedPolicy::kReject:
      return LocalVerdict(Action::kUnauthenticatedReject, "unauthenticated reject");
    case UnauthenticatedPolicy::kSender:
      if (request.Sender().empty()) {
        return LocalVerdict(Action::kDunno, "unauthenticated null sender");
      }
      return std::nullopt;
  }
  return std::nullopt;
}

std::string PlansSpec(const Config& config) {
  std::string out;
  for (const auto& [name, plan] : config.plans) {
    if (!out.empty()) out += ';';
    out += fmt::format("{}|{}|", name, plan.allow_any_domain ? 1 : 0);
    bool first = true;
    for (const Limit& l : plan.limits) {
      out += fmt::format("{}{}:{}:{}:{}", first ? "" : ",", SubjectKindName(l.subject),
                         MetricName(l.metric), l.max, l.window_ms / 1000);
      first = false;
    }
  }
  return out;
}

AbuseSpecs AbuseSpec(const Config& config) {
  const AbuseConfig& a = config.abuse;
  AbuseSpecs out;
  out.escalation = fmt::format("{},{},{},{},{},{},{},{}", a.throttle_events, a.within_ms,
                               a.block_for_ms, a.memory_ms, a.escalate, a.max_block_ms,
                               a.evidence_max, a.evidence_ttl_ms);
  out.score =
      fmt::format("window={},threshold={}", a.score_window_ms, PlainNumber(a.score_threshold));
  for (const auto& [kind, weight] : a.weights) {
    out.score += fmt::format(",{}={}", kind, PlainNumber(weight));
  }
  out.rates = fmt::format("{},{},{},{},{},{}", a.rate_window_ms, a.rate_min_messages,
                          PlainNumber(a.complaint_warn), PlainNumber(a.complaint_block),
                          PlainNumber(a.bounce_warn), PlainNumber(a.bounce_block));
  out.list_bombing = fmt::format("{},{}", a.list_bombing_messages, a.list_bombing_window_ms);
  int offset = ParseUtcOffset(config.quota.time_zone).ok() ? *ParseUtcOffset(config.quota.time_zone)
                                                          : 0;  // checked at load
  Result<std::vector<int>> levels = ParseWarnAt(config.quota.warn_at);
  out.quota = QuotaSpec(offset, config.quota.exhausted == QuotaExhausted::kDefer,
                        levels.ok() ? *levels : std::vector<int>{});
  return out;
}

std::string MessageIdentity(const PolicyRequest& request) {
  DecisionFields f = ReadDecisionFields(request);
  if (f.instance.empty()) return {};
  return HashHex(IdentityText(f));
}

std::string RecipientIdentity(const PolicyRequest& request) {
  DecisionFields f = ReadDecisionFields(request);
  if (f.instance.empty()) return {};
  return HashHex(IdentityText(f) + NormalizeSender(f.recipient));
}

DecideSubjects ReadDecideSubjects(const DecisionFields& f) {
  DecideSubjects s;
  s.state = f.state;
  s.size = f.size;
  s.sender = NormalizeSender(f.sender);
  s.sender_tag = SubjectTag(SubjectKind::kSender, s.sender);
  s.subject = f.sasl_username.empty() ? s.sender_tag
                                      : SubjectTag(SubjectKind::kUser, f.sasl_username);
  s.domain = SenderDomain(f.sender);
  s.ip_tag = SubjectTag(SubjectKind::kIp, f.client_address);
  s.client_hex = IpAddressMatchForm(f.client_address);
  return s;
}

const DecideSpecsCache::Specs& DecideSpecsCache::For(const std::shared_ptr<const Config>& config) {
  if (config_ != config.get()) {
    specs_ = {PlansSpec(*config), AbuseSpec(*config)};
    config_ = config.get();
    hold_ = config;
  }
  return specs_;
}

std::vector<std::string> BuildDecideArgs(const PolicyRequest& request, const Config& config,
                                         const DecideOptions& options,
                                         const std::string& plans_spec,
                                         const AbuseSpecs& abuse_spec) {
  const DecisionFields f = ReadDecisionFields(request);  // one pass over the attributes
  return BuildDecideArgs(f, ReadDecideSubjects(f), config, options, plans_spec, abuse_spec);
}

std::vector<std::string> BuildDecideArgs(const DecisionFields& f, DecideSubjects s,
                                         const Config& config, const DecideOptions& options,
                                         const std::string& plans_spec,
                                         const AbuseSpecs& abuse_spec) {
  bool eom = f.state == ProtocolState::kEndOfMessage;
  std::string recipient = NormalizeSender(f.recipient);
  // The message and recipient identities share their text: built once.
  std::string msg_id, rcpt_id;
  if (!f.instance.empty()) {
    std::string text = IdentityText(f);
    msg_id = HashHex(text);
    rcpt_id = HashHex(text + recipient);
  }
  // Values that only reach evidence entries are escaped like key names: printable, bounded.
  auto evidence = [](std::string_view v) { return EscapeKeyName(v.substr(0, 320)); };
  std::string recipients;  // ARGV[32], "\n"-joined; escaping leaves no newline inside one
  if (eom && config.policy.count_at == CountAt::kEndOfMessage) {
    std::size_t n = std::min(options.recipients.size(), kMaxDecideRecipients);
    for (std::size_t i = 0; i < n; ++i) {
      if (i > 0) recipients.push_back('\n');
      recipients += evidence(NormalizeSender(options.recipients[i]));
    }
  }
  // Pushed one by one: a braced list would copy every string (initializer_list is const).
  std::vector<std::string> args;
  args.reserve(kDecideArgsCount + 5);  // and the fast path's 5 (AppendFastPathArgs)
  args.emplace_back(options.mode == DecideMode::kExplain ? "explain" : "decide");
  args.emplace_back(std::to_string(options.now_ms));
  args.emplace_back(config.redis.key_prefix);
  args.emplace_back(eom ? "eom" : "rcpt");
  args.emplace_back(config.policy.count_at == CountAt::kRcpt ? "rcpt" : "eom");
  args.emplace_back(std::move(s.subject));
  args.emplace_back(std::move(s.sender_tag));
  args.emplace_back(std::move(s.domain));
  args.emplace_back(std::move(s.ip_tag));
  args.emplace_back(evidence(recipient));
  args.emplace_back(std::to_string(f.recipient_count));
  args.emplace_back(std::to_string(f.size));
  args.emplace_back(std::move(msg_id));
  args.emplace_back(std::move(rcpt_id));
  args.emplace_back(config.policy.unknown_user);
  args.emplace_back(config.policy.default_plan);
  args.emplace_back(plans_spec);
  args.emplace_back(std::to_string(config.policy.buckets));
  args.emplace_back(std::to_string(config.policy.dedup_ttl_ms));
  args.emplace_back(options.report_id);
  args.emplace_back(std::to_string(config.report.ttl_ms));
  args.emplace_back(std::to_string(config.report.acl_dedup_ms));
  args.emplace_back(abuse_spec.escalation);
  args.emplace_back(evidence(f.client_address));
  args.emplace_back(evidence(f.queue_id));
  args.emplace_back(evidence(s.sender));
  args.emplace_back(abuse_spec.score);
  args.emplace_back(abuse_spec.list_bombing);
  args.emplace_back(abuse_spec.rates);
  args.emplace_back(std::move(s.client_hex));
  args.emplace_back(abuse_spec.quota);
  args.emplace_back(std::move(recipients));
  return args;
}

Result<Verdict> ParseDecideReply(const std::vector<std::string>& f, std::string* facts) {
  if (f.size() != 12) {
    return Error{ErrorCode::kInternal,
                 fmt::format("decide script returned {} fields, expected 12", f.size())};
  }
  Verdict v;
  const std::string& action = f[0];
  if (action == "dunno") {
    v.action = Action::kDunno;
  } else if (action == "acl") {
    v.action = Action::kAclReject;
  } else if (action == "block") {
    v.action = Action::kBlocked;
  } else if (action == "rate") {
    v.action = Action::kThrottled;
  } else if (action == "ip") {
    v.action = Action::kIpRefused;
  } else if (action == "quota") {
    v.action = Action::kQuotaExceeded;
  } else {
    return Error{ErrorCode::kInternal, fmt::format("decide script returned action '{}'", action)};
  }
  v.rule = f[1];
  v.report_id = f[2];
  v.domain = f[3];
  v.metric = f[4];
  v.count = ToUint(f[5]);
  v.max = ToUint(f[6]);
  v.window_ms = ToUint(f[7]) * 1000;
  v.retry_after_s = ToUint(f[8]);
  if (facts) *facts = f[9];
  v.created_block = f[10];
  v.quota_warnings = f[11];
  return v;
}

}  // namespace policyd
