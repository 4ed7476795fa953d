#include "core/refusal_cache.h"

#include <fmt/format.h>

#include "core/redis_keys.h"

namespace policyd {
namespace {

// "rate user.messages.3600s" -> "user": the limit's subject kind, for the evidence detail.
std::string_view LimitSubjectOf(std::string_view rule) {
  constexpr std::string_view kPrefix = "rate ";
  if (rule.substr(0, kPrefix.size()) != kPrefix) return {};
  rule.remove_prefix(kPrefix.size());
  return rule.substr(0, rule.find('.'));
}

// [policy] unauthenticated = "sender": the envelope sender is the subject.
bool SenderIsSubject(const Config& config) {
  switch (config.policy.unauthenticated) {
    case UnauthenticatedPolicy::kSender:
      return true;
    default:
      return false;
  }
}

}  // namespace

uint64_t CostOf(const RefusalKey& key, std::string_view metric) {
  if (metric == "messages") return key.messages;
  if (metric == "recipients") return key.recipients;
  if (metric == "bytes") return key.bytes;
  return 0;
}

std::optional<RefusalKey> RefusalCache::KeyFor(const PolicyRequest& request,
                                               const Config& config) {
  ProtocolState state = request.State();
  if (state == ProtocolState::kOther) return std::nullopt;
  if (config.policy.count_at != CountAt::kEndOfMessage) return std::nullopt;
  std::string sender = NormalizeSender(request.Sender());
  std::string sender_tag = SubjectTag(SubjectKind::kSender, sender);
  RefusalKey key;
  if (!request.SaslUsername().empty()) {
    key.subject = SubjectTag(SubjectKind::kUser, request.SaslUsername());
  } else if (SenderIsSubject(config) && !sender_tag.empty()) {
    key.subject = sender_tag;
  } else {
    return std::nullopt;  // decided without Redis anyway (DecideLocally)
  }
  bool eom = state == ProtocolState::kEndOfMessage;
  // Mirrors decide.lua's cost table: RCPT is a pre-check for one more message.
  key.messages = 1;
  key.recipients = eom ? request.RecipientCount() : 1;
  key.bytes = request.Size();
  // '\n' cannot occur in a tag (escaped) or in a policy attribute value.
  key.sender_tag = sender_tag;
  key.ip_tag = SubjectTag(SubjectKind::kIp, request.ClientAddress());
  key.key = fmt::format("{}\n{}\n{}\n{}", eom ? "eom" : "rcpt", key.subject, sender_tag,
                        key.ip_tag);
  return key;
}

bool RefusalCache::Remember(const RefusalKey& key, const Verdict& verdict, uint64_t sent_ms,
                            uint64_t generation) {
  if (generation != generation_) return false;  // an invalidation arrived meanwhile
  if (verdict.action != Action::kThrottled || !verdict.created_block.empty()) return false;
  // Redis rounds retry_after up: the window may admit up to 1 s earlier than it says.
  if (verdict.retry_after_s < 2) return false;
  uint64_t cost = CostOf(key, verdict.metric);
  if (cost == 0) return false;
  // Only limits on the request's own subjects (user, sender, ip) or its account are cached.
  std::string_view kind = LimitSubjectOf(verdict.rule);
  if (kind != "user" && kind != "sender" && kind != "ip" && kind != "account") return false;
  if (entries_.size() >= limits_.max_entries) Clear();
  Entry& e = entries_[key.key];
  e.subject = key.subject;
  e.verdict = verdict;
  e.cost = cost;
  e.serve_until = sent_ms + (verdict.retry_after_s - 1) * 1000;
  e.retry_at = sent_ms + verdict.retry_after_s * 1000;
  SubjectState& s = subjects_[key.subject];
  s.detail = fmt::format("{} {}/{} per {}s ({})", verdict.metric, verdict.count, verdict.max,
                         verdict.window_ms / 1000, LimitSubjectOf(verdict.rule));
  if (s.headroom < 0) s.probe = true;
  return true;
}

std::optional<Verdict> RefusalCache::Answer(const RefusalKey& key, uint64_t now_ms) {
  auto it = entries_.find(key.key);
  if (it == entries_.end()) return std::nullopt;
  Entry& e = it->second;
  if (now_ms >= e.serve_until) {
    entries_.erase(it);
    return std::nullopt;
  }
  // A cheaper request (fewer recipients, fewer bytes) may fit where the refused one did not.
  if (CostOf(key, e.verdict.metric) < e.cost) return std::nullopt;
  SubjectState& s = subjects_[e.subject];
  if (s.headroom < 0) return std::nullopt;  // not yet known: Redis decides
  if (s.batched >= limits_.max_batch_per_subject) return std::nullopt;
  if (s.headroom - static_cast<int64_t>(s.batched) - 1 <= limits_.escalation_margin) {
    return std::nullopt;  // near a block: the throttle that blocks is decided in Redis
  }
  ++s.batched;
  Verdict v = e.verdict;
  v.retry_after_s = (e.retry_at - now_ms + 999) / 1000;
  v.rule += " (local)";
  return v;
}

void RefusalCache::Clear() {
  entries_.clear();
  // Refusals already answered are throttles to record whatever changed since: their batches
  // stay for the next flush (else every change to a user anywhere, or a reload, would drop up
  // to a flush interval of them); what was cached about each subject goes.
  for (auto it = subjects_.begin(); it != subjects_.end();) {
    SubjectState& s = it->second;
    if (s.batched == 0) {
      it = subjects_.erase(it);
      continue;
    }
    s.headroom = -1;
    s.probe = false;
    ++it;
  }
  ++generation_;
}

std::vector<ThrottleBatch> RefusalCache::TakeBatches() {
  std::vector<ThrottleBatch> out;
  for (auto& [subject, s] : subjects_) {
    if (s.batched == 0 && !s.probe) continue;
    out.push_back({subject, s.batched, s.detail});
    // Counted against the headroom until record_throttles reports the new one.
    if (s.headroom >= 0) s.headroom -= static_cast<int64_t>(s.batched);
    s.batched = 0;
    s.probe = false;
  }
  return out;
}

void RefusalCache::OnRecorded(const std::string& subject, int64_t throttles, bool blocked,
                              int throttle_events, uint64_t generation) {
  if (generation != generation_) return;
  if (blocked) {
    Clear();  // the block's invalidation would do it too, a little later
    return;
  }
  auto it = subjects_.find(subject);
  if (it == subjects_.end()) return;
  it->second.headroom = static_cast<int64_t>(throttle_events) + 1 - throttles;
}

}  // namespace policyd
