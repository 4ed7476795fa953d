// Reports, review requests and signals in Redis, for the HTTP side and policyctl: the only
// code that reads report hashes and calls review.lua and signal.lua.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/metrics.h"
#include "core/report_page.h"
#include "core/result.h"
#include "core/signals.h"
#include "store/redis_client.h"
#include "store/script_runner.h"

namespace policyd {

struct SignalOutcome {
  std::string score;         // the subject's score after the signal
  std::string block_reason;  // "" unless this signal blocked the subject
  // Complaints and bounces (_rates.lua): "complaint rate 0.6 % — 6 complaints in 1,000
  // messages over 7 days (block level 0.5 %)"; "" for kinds judged by score.
  std::string rate_text;
  std::string outcome;  // scored, counted, warned, blocked or duplicate
};

// Adds a signal's rate outcome to the metrics: a warning or a duplicate feedback id.
void CountRateOutcome(const SignalOutcome& outcome, const std::string& kind, Metrics* metrics);

class ReportStore {
 public:
  ReportStore(RedisClient* client, ScriptRunner* scripts) : client_(client), scripts_(scripts) {}

  // nullopt when the report does not exist (or expired). REQUIRES: IsValidReportId(id).
  void Get(const Config& config, const std::string& id,
           std::function<void(Result<std::optional<Report>>)> callback);
  // Reports whose review was requested (review.lua's list), newest request first, at most
  // max; reports that expired since are left out.
  void ListReviews(const Config& config, std::size_t max,
                   std::function<void(Result<std::vector<Report>>)> callback);
  // "requested", "already" (one is pending) or "missing". text: the customer's words,
  // already checked (CheckReviewText); stored as the report's review_text.
  void RequestReview(const Config& config, const std::string& id, const std::string& text,
                     std::function<void(Result<std::string>)> callback);
  // For an ACL report's page: the account's domains and the user's grants as they are now
  // (two reads, each in its subject's slot). Empty for other reports and unknown accounts.
  void GetAclToday(const Config& config, const Report& report,
                   std::function<void(Result<AclToday>)> callback);
  // One atomic script call for the whole batch; outcomes in input order.
  void IngestSignals(const Config& config, const std::vector<Signal>& signals,
                     const std::string& source,
                     std::function<void(Result<std::vector<SignalOutcome>>)> callback);
  // The accounts with a complaint or bounce in the rate window and their counts
  // (account_rates.lua), newest first, at most kMaxRatedAccounts: for GET /metrics.
  void AccountRates(const Config& config, uint64_t timeout_ms,
                    std::function<void(Result<std::vector<AccountRateRow>>)> callback);
  // true when Redis answers PING within timeout.
  void Ping(uint64_t timeout_ms, std::function<void(bool)> callback);

  // The loop's client and scripts, for the admin API's operations (lib/ops).
  RedisClient& client() { return *client_; }
  ScriptRunner& scripts() { return *scripts_; }

 private:
  RedisClient* client_;
  ScriptRunner* scripts_;
};

}  // namespace policyd
