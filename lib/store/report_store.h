// Reports, review requests and signals in Redis, for the HTTP side and policyctl: the only
// code that reads report hashes and calls review.lua and signal.lua.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/report_page.h"
#include "core/result.h"
#include "core/signals.h"
#include "store/redis_client.h"
#include "store/script_runner.h"

namespace policyd {

struct SignalOutcome {
  std::string score;         // the subject's score after the signal
  std::string block_reason;  // "" unless this signal blocked the subject
};

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
  // "requested", "already" or "missing".
  void RequestReview(const Config& config, const std::string& id,
                     std::function<void(Result<std::string>)> callback);
  // One atomic script call for the whole batch; outcomes in input order.
  void IngestSignals(const Config& config, const std::vector<Signal>& signals,
                     const std::string& source,
                     std::function<void(Result<std::vector<SignalOutcome>>)> callback);
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
