#include "core/rcpt_precheck.h"

#include <cstdlib>

#include "core/redis_keys.h"

namespace policyd {

std::optional<RcptPrecheck> PlanRcptPrecheck(const AccessFacts& facts,
                                             const DecideSubjects& subjects,
                                             const Config& config, DecideMode mode) {
  if (facts.full || mode != DecideMode::kDecide || subjects.state != ProtocolState::kRcpt ||
      config.policy.count_at != CountAt::kEndOfMessage) {
    return std::nullopt;
  }
  // decide.lua's 4b: any quota field at all takes the script (it knows what a quota is).
  if (!facts.user_quota.empty() || !facts.account_quota.empty()) return std::nullopt;
  const std::string& prefix = config.redis.key_prefix;
  const std::string& subject = subjects.subject;
  const std::string& sender_tag = subjects.sender_tag;

  RcptPrecheck p;
  p.domain = subjects.domain;
  // _access.lua read_block: the subject, and the sender under any user.
  p.exists = {"EXISTS", BuildKey(prefix, "block", subject)};
  if (!sender_tag.empty() && sender_tag != subject) {
    p.exists.push_back(BuildKey(prefix, "block", sender_tag));
  }

  // decide.lua's section 4: the subjects' tags and what a RCPT pre-check costs.
  std::string account_tag = facts.account.empty() ? "" : "account:" + facts.account;
  auto tag_of = [&](const std::string& s) -> const std::string* {
    if (s == "user") return &subject;
    if (s == "sender") return &sender_tag;
    if (s == "ip") return &subjects.ip_tag;
    if (s == "account") return &account_tag;
    return nullptr;
  };
  double size = static_cast<double>(subjects.size);
  auto cost_of = [&](const std::string& m) -> std::optional<double> {
    if (m == "messages" || m == "recipients") return 1.0;
    if (m == "bytes") return size;
    return std::nullopt;
  };
  // An unauthenticated sender is both the user and the sender subject: one read per tag,
  // one field per window, however many limits share it. A handful of tags and windows:
  // found by scanning (a map would allocate a node per entry on every RCPT).
  std::vector<const std::string*> read_tags;  // the tag of each of p.reads
  for (const ResolvedLimit& l : facts.limits) {
    const std::string* tag = tag_of(l.subject);
    std::optional<double> cost = cost_of(l.metric);
    // As decide.lua: no tag (null sender, no account, unknown subject) or no cost: no check.
    if (tag == nullptr || tag->empty() || !cost || *cost <= 0) continue;
    std::size_t r = 0;
    while (r < read_tags.size() && *read_tags[r] != *tag) ++r;
    if (r == read_tags.size()) {
      read_tags.push_back(tag);
      p.reads.push_back({"HMGET", BuildKey(prefix, "rate", *tag)});
    }
    std::vector<std::string>& hmget = p.reads[r];
    std::string field = l.metric + ":" + l.window_s + ":total";
    std::size_t f = 2;  // after "HMGET" and the key
    while (f < hmget.size() && hmget[f] != field) ++f;
    if (f == hmget.size()) hmget.push_back(std::move(field));
    p.checks.push_back({r, f - 2, *cost, l.max});
  }
  return p;
}

bool PrecheckHasRoom(const RcptPrecheck& precheck, long long blocks,
                     const std::vector<HashFields>& totals) {
  if (blocks != 0 || totals.size() != precheck.reads.size()) return false;
  for (const RcptPrecheck::Check& c : precheck.checks) {
    const HashFields& fields = totals[c.read];
    if (c.field >= fields.size()) return false;
    double total = 0;  // no field: nothing counted (window_settle's 0)
    if (const std::optional<std::string>& v = fields[c.field]) {
      char* end = nullptr;
      total = std::strtod(v->c_str(), &end);
      if (v->empty() || end != v->c_str() + v->size()) return false;  // not ours: the script
    }
    if (!(total + c.cost <= c.max)) return false;
  }
  return true;
}

Verdict PrecheckPassVerdict(const RcptPrecheck& precheck) {
  Verdict v;
  v.action = Action::kDunno;
  v.rule = "pre-check within limits";
  v.domain = precheck.domain;
  return v;
}

}  // namespace policyd
