#include "core/cluster_quota.h"

#include <fmt/format.h>

#include <charconv>
#include <chrono>

#include "core/report_slot.h"

namespace policyd {

std::vector<QuotaSubject> RequestQuotas(const AccessOutcome& outcome,
                                        const std::vector<std::string>& args) {
  std::vector<QuotaSubject> out;
  if (!outcome.user_quota.empty()) out.push_back({args[kArgSubject], outcome.user_quota});
  // access_decide.lua reports an account's quota only when it is a number and the user has
  // an account.
  if (!outcome.account.empty() && !outcome.account_quota.empty()) {
    out.push_back({"account:" + outcome.account, outcome.account_quota});
  }
  return out;
}

std::string QuotaPeriod(int64_t now_ms, int offset_min) {
  using namespace std::chrono;
  int64_t shifted = now_ms + int64_t{offset_min} * 60000;
  // floor division: a time before 1970 still lands in its own day.
  int64_t days = shifted / 86400000 - (shifted % 86400000 < 0 ? 1 : 0);
  year_month_day ymd{sys_days{std::chrono::days{days}}};
  return fmt::format("{:04}{:02}", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()));
}

int QuotaSpecOffset(std::string_view spec) {
  int offset = 0;
  std::string_view head = spec.substr(0, spec.find('|'));
  auto [end, ec] = std::from_chars(head.data(), head.data() + head.size(), offset);
  if (ec != std::errc() || end != head.data() + head.size()) return 0;
  return offset;
}

std::vector<std::string> QuotaCallKeys(const QuotaCallContext& ctx, const std::string& tag) {
  const SubjectCallContext& s = ctx.subject;
  std::string period = QuotaPeriod(s.now_ms, QuotaSpecOffset(ctx.quota_spec));
  int64_t slice = s.now_ms / s.reservation_ms;  // math.floor(now / span) for now > 0
  std::string resv = s.prefix + "qresv:{" + tag + "}:";
  return {s.prefix + "quota:{" + tag + "}:" + period, resv + std::to_string(slice),
          resv + std::to_string(slice - 1)};
}

std::vector<std::string> BuildQuotaCallArgs(const QuotaCallContext& ctx, const QuotaSubject& q,
                                            QuotaMode mode) {
  const char* m = "count";
  switch (mode) {
    case QuotaMode::kCount: m = "count"; break;
    case QuotaMode::kCheck: m = "check"; break;
    case QuotaMode::kRefund: m = "refund"; break;
    case QuotaMode::kLookup: m = "lookup"; break;
  }
  const SubjectCallContext& s = ctx.subject;
  return {std::to_string(s.now_ms),
          s.prefix,
          q.tag,
          q.quota,
          m,
          s.message_id,
          std::to_string(s.reservation_ms),
          std::to_string(ctx.messages),
          ctx.quota_spec,
          ctx.abuse_spec,
          std::string(SubjectSlotTag(q.tag))};
}

QuotaVerdict CombineQuotaOutcomes(const std::vector<QuotaOutcome>& outcomes) {
  using S = QuotaOutcome::Status;
  QuotaVerdict v;
  std::optional<std::size_t> refused, failed, given_up;
  v.repeat = !outcomes.empty();
  for (std::size_t i = 0; i < outcomes.size(); ++i) {
    const QuotaOutcome& o = outcomes[i];
    if (o.status == S::kRefused && !refused) refused = i;
    if (o.status == S::kError && !failed) failed = i;
    if (o.status == S::kRefunded && !given_up) given_up = i;
    // A failed call may have counted before its reply was lost: refunded too (a refund of a
    // quota that never counted leaves a tombstone, harmless).
    if (o.status == S::kCounted || o.status == S::kError) v.refunds.push_back(i);
    if (o.status == S::kCounted && !o.warnings.empty()) {
      v.warnings += (v.warnings.empty() ? "" : ",") + o.warnings;
    }
    v.repeat = v.repeat && o.repeat;
  }
  if (refused) {
    v.kind = QuotaVerdict::Kind::kRefuse;
    v.deciding = *refused;
    const QuotaOutcome& o = outcomes[*refused];
    v.parts = Parts("quota", o.rule);
    v.parts.metric = "messages";
    v.parts.count = o.used;
    v.parts.max = o.quota;
  } else if (failed) {
    v.kind = QuotaVerdict::Kind::kFailure;
    v.deciding = *failed;
  } else if (given_up) {
    v.kind = QuotaVerdict::Kind::kGivenUp;
    v.deciding = *given_up;
  } else {
    v.refunds.clear();
    return v;
  }
  v.warnings.clear();
  v.repeat = false;
  return v;
}

}  // namespace policyd
