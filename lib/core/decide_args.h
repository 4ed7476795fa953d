// The contract between C++ and lib/store/lua/decide.lua: which requests need Redis at all,
// the script's ARGV for one request (in the order decide.lua reads them), and its reply as a
// Verdict. Pure: the store sends what this builds and hands back what Redis returned.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/decision_fields.h"
#include "core/policy_request.h"
#include "core/result.h"
#include "core/verdict.h"

namespace policyd {

enum class DecideMode { kDecide, kExplain };

struct DecideOptions {
  DecideMode mode = DecideMode::kDecide;
  uint64_t now_ms = 0;    // 0: the script uses Redis TIME (one clock for all instances)
  std::string report_id;  // used if the decision creates a report (NewReportId())
  // END-OF-MESSAGE with count_at = eom: the recipients answered DUNNO at RCPT in this
  // transaction (ARGV[32], list-bombing counts each). Empty: the request's own recipient.
  // The first kMaxDecideRecipients are sent.
  std::vector<std::string> recipients;
};
inline constexpr std::size_t kMaxDecideRecipients = 1000;

// A verdict reached without Redis: stages other than RCPT and END-OF-MESSAGE (DUNNO), and
// requests without sasl_username under [policy] unauthenticated = "dunno" or "reject".
std::optional<Verdict> DecideLocally(const PolicyRequest& request, const Config& config);

// [plans] and [abuse] as the compact strings the scripts parse (_common.lua parse_abuse,
// parse_score); computed once per config.
struct AbuseSpecs {
  std::string escalation;  // throttle_events,within,block_for,memory,escalate,max_block,...
  std::string score;       // window=MS,threshold=X,KIND=WEIGHT,...
  std::string rates;       // WINDOW_MS,MIN,COMPLAINT_WARN,COMPLAINT_BLOCK,BOUNCE_WARN,BOUNCE_BLOCK
  std::string quota;       // [quota] as QuotaSpec (core/quota.h): OFFSET_MIN|reject|80,90,100
  std::string list_bombing;  // MESSAGES,WINDOW_MS (ARGV[28])
};
std::string PlansSpec(const Config& config);
AbuseSpecs AbuseSpec(const Config& config);

// PlansSpec and AbuseSpec of the config last asked for, computed once per config: a store
// decides many requests under one config. Keeps that config alive (its address stays unique).
class DecideSpecsCache {
 public:
  struct Specs {
    std::string plans;
    AbuseSpecs abuse;
  };
  const Specs& For(const std::shared_ptr<const Config>& config);

 private:
  const Config* config_ = nullptr;
  std::shared_ptr<const Config> hold_;
  Specs specs_;
};

// What the access cache and the RCPT pre-check read of a request (issue 16), found without
// hashing, escaping or formatting numbers: a decision builds decide.lua's ARGV only when a
// script runs (a pre-check answered by plain reads needs only these).
struct DecideSubjects {
  ProtocolState state = ProtocolState::kOther;
  uint64_t size = 0;       // the request's size attribute
  std::string sender;      // the sender, normalized (NormalizeSender)
  std::string subject;     // ARGV[6]: user:NAME, or the sender's tag without sasl_username
  std::string sender_tag;  // ARGV[7]
  std::string domain;      // ARGV[8]: the sender's domain
  std::string ip_tag;      // ARGV[9]
  std::string client_hex;  // ARGV[30]: the client address as 32 hex digits ('' none)
};
DecideSubjects ReadDecideSubjects(const DecisionFields& fields);

// ARGV for decide.lua, ARGV[1] to ARGV[32]. plans_spec and abuse_spec come from
// PlansSpec/AbuseSpec of the same config. REQUIRES: !DecideLocally(request, config).
// The fast path (issue 16) appends ARGV[33...] (lib/core/access_cache.h AppendFastPathArgs):
// ARGV[33] '1', ARGV[34] the resolved limits, ARGV[35] the account ('' none), ARGV[36] the
// user's quota field ('' none), ARGV[37] the account's quota ('' none). Without them: the
// full path.
// Indexes (0-based) of the request's access key parts in what this returns, and of the key
// prefix (the cluster's access reads, lib/core/access_prefetch.h, build keys with it):
constexpr std::size_t kArgPrefix = 2, kArgSubject = 5, kArgSenderTag = 6, kArgDomain = 7,
                      kArgClientHex = 29;
constexpr std::size_t kDecideArgsCount = 32;
std::vector<std::string> BuildDecideArgs(const PolicyRequest& request, const Config& config,
                                         const DecideOptions& options,
                                         const std::string& plans_spec,
                                         const AbuseSpecs& abuse_spec);
// The same from the request's fields and their ReadDecideSubjects (taken over).
std::vector<std::string> BuildDecideArgs(const DecisionFields& fields, DecideSubjects subjects,
                                         const Config& config, const DecideOptions& options,
                                         const std::string& plans_spec,
                                         const AbuseSpecs& abuse_spec);

// decide.lua's reply { action, rule, report, domain, metric, count, max, window_s,
// retry_after, facts, created_block, quota_warnings } as a Verdict; facts (explain mode:
// JSON) goes to *facts if given.
Result<Verdict> ParseDecideReply(const std::vector<std::string>& fields,
                                 std::string* facts = nullptr);

// The identity Postfix's retries share (instance, client address and port, SMTP user),
// hashed; "" when the request has no instance. rcpt_identity adds the recipient.
std::string MessageIdentity(const PolicyRequest& request);
std::string RecipientIdentity(const PolicyRequest& request);

}  // namespace policyd
