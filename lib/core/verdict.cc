#include "core/verdict.h"

#include <map>

#include "core/reply_template.h"
#include "core/report_token.h"

namespace policyd {

std::string_view ActionName(Action action) {
  switch (action) {
    case Action::kDunno: return "dunno";
    case Action::kAclReject: return "acl";
    case Action::kBlocked: return "block";
    case Action::kThrottled: return "rate";
    case Action::kIpRefused: return "ip";
    case Action::kQuotaExceeded: return "quota";
    case Action::kFailure: return "failure";
    case Action::kUnauthenticatedReject: return "unauthenticated";
  }
  return "dunno";
}

std::string FailureActionText(const Config& config) {
  if (config.failure.on_redis_error == FailureAction::kDunno) return "DUNNO";
  return FillReplyTemplate(config.messages.defer, {});
}

std::string FormatVerdict(const Verdict& verdict, const Config& config) {
  std::map<std::string, std::string> values = {{"user", verdict.user},
                                               {"domain", verdict.domain}};
  switch (verdict.action) {
    case Action::kDunno:
      return "DUNNO";
    case Action::kFailure:
      return FailureActionText(config);
    case Action::kUnauthenticatedReject:
      return FillReplyTemplate(config.messages.unauthenticated, values);
    case Action::kIpRefused:
      values["report_url"] =
          ReportUrl(config.report.base_url, config.report.secret, verdict.report_id);
      return FillReplyTemplate(config.messages.ip, values);
    case Action::kAclReject:
    case Action::kBlocked:
      values["report_url"] =
          ReportUrl(config.report.base_url, config.report.secret, verdict.report_id);
      return FillReplyTemplate(
          verdict.action == Action::kAclReject ? config.messages.acl : config.messages.abuse,
          values);
    case Action::kQuotaExceeded:
      values["count"] = std::to_string(verdict.count);
      values["max"] = std::to_string(verdict.max);
      return FillReplyTemplate(config.quota.exhausted == QuotaExhausted::kDefer
                                   ? config.messages.quota_defer
                                   : config.messages.quota,
                               values);
    case Action::kThrottled:
      values["metric"] = verdict.metric;
      values["count"] = std::to_string(verdict.count);
      values["max"] = std::to_string(verdict.max);
      values["window"] = FormatDuration(verdict.window_ms);
      values["retry_after"] = std::to_string(verdict.retry_after_s);
      return FillReplyTemplate(config.messages.rate, values);
  }
  return "DUNNO";
}

}  // namespace policyd
