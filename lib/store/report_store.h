// Reports, review requests and signals in Redis, for the HTTP side and policyctl: the only
// code that reads report hashes and calls review.lua and signal.lua. On one Redis or on a
// Redis Cluster (issue 17): there a report's reads and its review scripts run in the report's
// slot (the review queue PREFIXreviews:{TAG} is in it, core/review_queue.h), and the list of
// reviews reads every slot's queue, found by SCAN on each primary.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/metrics.h"
#include "core/rated_accounts.h"
#include "core/report_page.h"
#include "core/result.h"
#include "core/signals.h"
#include "store/cluster_client.h"
#include "store/cluster_script_runner.h"
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

// review_list.lua's reply ({ 'ok', { id, { field, value, ... } }, ... }) as Reports, in its
// order; kInternal for an entry of another shape.
Result<std::vector<Report>> ReviewListReports(const RedisValue& reply);

// Adds a signal's rate outcome to the metrics: a warning or a duplicate feedback id.
void CountRateOutcome(const SignalOutcome& outcome, const std::string& kind, Metrics* metrics);

class ReportStore {
 public:
  // One Redis.
  ReportStore(RedisClient* client, ScriptRunner* scripts) : client_(client), scripts_(scripts) {}
  // A Redis Cluster: every call is built (issue 17); client()/scripts() must not be called.
  ReportStore(ClusterClient* cluster, ClusterScriptRunner* scripts)
      : cluster_(cluster), cluster_scripts_(scripts) {}

  // nullopt when the report does not exist (or expired). REQUIRES: IsValidReportId(id).
  void Get(const Config& config, const std::string& id,
           std::function<void(Result<std::optional<Report>>)> callback);
  // Reports whose review was requested and is not resolved (review_list.lua), newest request
  // first, at most max; reports that expired since are left out. On a cluster review_list runs
  // on every slot's queue (SCAN MATCH PREFIXreviews:{* TYPE list on each primary), all at once,
  // and the lists are merged (MergeReviews); a failed SCAN or call fails the whole list.
  void ListReviews(const Config& config, std::size_t max,
                   std::function<void(Result<std::vector<Report>>)> callback);
  // "requested", "already" (one is pending) or "missing". text: the customer's words,
  // already checked (CheckReviewText); stored as the report's review_text.
  void RequestReview(const Config& config, const std::string& id, const std::string& text,
                     std::function<void(Result<std::string>)> callback);
  // review_resolve.lua in the report's slot: its reply as the script gives it ({ 'ok', at },
  // { 'notfound', ... }, { 'conflict', ... }; ops/review_ops.h reads it). note: checked by
  // the caller; source: 'policyctl' or 'api'.
  void ResolveReview(const Config& config, const std::string& id, const std::string& note,
                     const std::string& source, RedisClient::Callback callback);
  // For an ACL report's page: the account's domains and the user's grants as they are now
  // (two reads, each in its subject's slot). Empty for other reports and unknown accounts.
  void GetAclToday(const Config& config, const Report& report,
                   std::function<void(Result<AclToday>)> callback);
  // signal.lua: on one Redis one atomic call for the whole batch; on a cluster one call per
  // slot of the batch's subjects (each atomic; a batch over several slots is not: when one
  // call fails the batch answers its error while the others are applied). Outcomes in input
  // order. On a cluster a batch with complaints or bounces takes three steps, because a
  // user's complaint also counts in its account, another slot (pd:complaints:{account:A},
  // pd:rated_accounts:{TAG}): signal_facts.lua per subject slot (feedback id seen? the user's
  // account), account_signal.lua per account slot (counts the account, returns its rate
  // text), then signal.lua per subject slot as on one Redis with that text. The subject's
  // outcome (counts, warnings, blocks, events) is decided in one call as on one Redis; the
  // account's count is not atomic with it: a failed last step or a duplicate feedback id racing
  // its first copy counts the account twice (shown on /metrics, never blocked on).
  void IngestSignals(const Config& config, const std::vector<Signal>& signals,
                     const std::string& source,
                     std::function<void(Result<std::vector<SignalOutcome>>)> callback);
  // The accounts with a complaint or bounce in the rate window and their counts
  // (account_rates.lua), newest first, at most kMaxRatedAccounts: for GET /metrics. On a
  // cluster account_rates runs on every slot's rated set (SCAN MATCH PREFIXrated_accounts:{*
  // TYPE zset on each primary), all at once, and the rows are merged newest first; a failed
  // SCAN or call fails the whole answer.
  void AccountRates(const Config& config, uint64_t timeout_ms,
                    std::function<void(Result<std::vector<AccountRateRow>>)> callback);
  // true when Redis answers PING within timeout (on a cluster: every primary is connected).
  void Ping(uint64_t timeout_ms, std::function<void(bool)> callback);

  // The loop's client and scripts, for the admin operations (lib/ops/admin_backend.h).
  // client() and scripts() REQUIRE one Redis; cluster() and cluster_scripts() are nullptr
  // there.
  RedisClient& client() { return *client_; }
  ScriptRunner& scripts() { return *scripts_; }
  ClusterClient* cluster() { return cluster_; }
  ClusterScriptRunner* cluster_scripts() { return cluster_scripts_; }

 private:
  // A plain command whose key is argv[1], on one Redis or on that key's primary.
  void Read(std::vector<std::string> argv, uint64_t timeout_ms, RedisClient::Callback callback);
  // A script whose keys are all in route_key's slot (ignored on one Redis).
  void RunScript(std::string_view name, std::string route_key, std::vector<std::string> args,
                 uint64_t timeout_ms, RedisClient::Callback callback);
  // review_list.lua on one queue: home '' (one Redis) or a slot-tag found by SCAN.
  void ListQueue(const Config& config, const std::string& home, std::size_t max,
                 std::function<void(Result<std::vector<Report>>)> callback);
  // One script call of a fan-out: in route's slot, answering one reply element per batch item
  // of `items` (indexes into the batch), in order.
  struct BatchCall {
    std::string route;
    std::vector<std::string> args;
    std::vector<std::size_t> items;
  };
  // Runs `name` once per call, all at once; done gets the reply element of every batch item
  // (n items; an item no call names, or a short reply, leaves an empty RedisValue), or the
  // first error once every call has answered.
  void RunBatch(std::string_view name, std::vector<BatchCall> calls, std::size_t n,
                uint64_t timeout_ms, std::function<void(Result<std::vector<RedisValue>>)> done);
  // signal.lua for the batch (IngestSignals); account_rates[i]: signal i's account rate ARGV.
  void JudgeSignals(const Config& config, std::vector<Signal> signals,
                    std::vector<std::string> account_rates, const std::string& source,
                    std::function<void(Result<std::vector<SignalOutcome>>)> callback);
  // The first two steps of a cluster batch with complaints or bounces (IngestSignals).
  void IngestRatedOnCluster(const Config& config, std::vector<Signal> signals,
                            const std::string& source,
                            std::function<void(Result<std::vector<SignalOutcome>>)> callback);
  // account_rates.lua on one rated set: home '' (one Redis) or a slot-tag found by SCAN.
  void RatedSet(const Config& config, const std::string& home, uint64_t timeout_ms,
                std::function<void(Result<std::vector<RatedAccount>>)> callback);
  // The queue slot-tag that review.lua and review_resolve.lua are given for report `id`.
  std::string HomeOf(const Config& config, const std::string& id) const;

  RedisClient* client_ = nullptr;  // one Redis
  ScriptRunner* scripts_ = nullptr;
  ClusterClient* cluster_ = nullptr;  // or a cluster
  ClusterScriptRunner* cluster_scripts_ = nullptr;
};

}  // namespace policyd
