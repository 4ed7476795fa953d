// The local refusal cache and the access cache of one event loop, wired to Redis (issue 16):
// the pure RefusalCache (lib/core/refusal_cache.h) and AccessCache (lib/core/access_cache.h),
// an InvalidationListener that empties them whenever read-mostly state changes, and a flusher
// that records its local refusals as throttles (record_throttles.lua) every kFlushIntervalMs,
// on the decision connection; a subject just refused by Redis is asked for its headroom at
// once (kProbeDelayMs).
//
// One Redis: the cache is used only while both connections are ready and talk to the same
// server; it is emptied before the next decision whenever either connection is lost (the
// decision client's ready listener calls OnDecisionConnection(false); the listener reports its
// own loss), on every invalidation, and on a config reload (Clear()).
//
// A Redis Cluster (issue 17): the same, with the cluster's pieces in their place. Writes are
// heard through a ClusterInvalidation (one listener per primary, following the map); the
// cache is used only while the ClusterClient is ready and every primary is heard, and emptied
// whenever either stops being so (the client's ready listener calls OnDecisionConnection). A
// flush sends one record_throttles call per slot of its subjects, through the
// ClusterScriptRunner, with the slot's home (SubjectSlotTag) and report ids in that slot.
//
// Usage per request, on the loop thread:
//   if (auto v = refusals.Answer(config, request)) reply *v;     // no Redis
//   else { Ticket t = refusals.Prepare(config, request);
//          store.Decide(..., [&](verdict) { refusals.Learn(t, verdict); ... }); }
#pragma once

#include <uv.h>

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/access_cache.h"
#include "core/config.h"
#include "core/policy_request.h"
#include "core/refusal_cache.h"
#include "core/verdict.h"
#include "store/cluster_client.h"
#include "store/cluster_invalidation.h"
#include "store/cluster_script_runner.h"
#include "store/invalidation_listener.h"
#include "store/redis_client.h"
#include "store/script_runner.h"

namespace policyd {

// The read-mostly key prefixes under [redis] key_prefix (docs/redis-keys.md).
std::vector<std::string> TrackedPrefixes(const std::string& key_prefix);

class LocalRefusals {
 public:
  // Batching is what makes a local refusal cheap for Redis: one record_throttles call per
  // subject per interval, whatever the number of refusals (at most
  // RefusalCacheLimits::max_batch_per_subject; beyond that, Redis decides). The interval is
  // long enough for a batch to hold several refusals of a flood spread over many subjects
  // (at 20 ms, 1,000 refused users at 30,000 req/s gave batches of about one refusal, and
  // Redis spent 15 µs per refusal; at 250 ms, 4 µs), and short against [abuse] within.
  static constexpr uint64_t kFlushIntervalMs = 250;
  static constexpr uint64_t kProbeDelayMs = 1;

  struct Ticket {
    std::optional<RefusalKey> key;
    uint64_t sent_ms = 0;
    uint64_t generation = 0;
  };
  // Written on the loop thread; atomic because the primary loop's /metrics reads them.
  struct Counters {
    std::atomic<uint64_t> hits{0};    // requests refused locally
    std::atomic<uint64_t> clears{0};  // a non-empty cache emptied (invalidation, loss, reload)
    std::atomic<uint64_t> invalidations{0};  // invalidation messages heard
    std::atomic<uint64_t> resets{0};  // forgotten on a lost connection/listener, new primaries
    std::atomic<uint64_t> throttles_recorded{0};
    std::atomic<uint64_t> access_hits{0};    // access cache passes (fast path or pre-check)
    std::atomic<uint64_t> access_fills{0};   // access_facts answers stored
    std::atomic<uint64_t> access_clears{0};  // a non-empty access cache emptied
    // RCPT pre-checks of cached passes (core/rcpt_precheck.h): answered by plain reads, or
    // handed to decide.lua (a block key, a window without room, an error reply).
    std::atomic<uint64_t> rcpt_prechecks_commands{0};
    std::atomic<uint64_t> rcpt_prechecks_script{0};
  };

  // One Redis. decision: the loop's decision client (outlives this); config: read at each
  // flush.
  LocalRefusals(uv_loop_t* loop, RedisClient* decision, ScriptRunner* scripts,
                std::function<std::shared_ptr<const Config>()> config, const RedisConfig& redis);
  // A Redis Cluster: cluster and scripts outlive this; it takes the cluster's map listener
  // (ClusterInvalidation).
  LocalRefusals(uv_loop_t* loop, ClusterClient* cluster, ClusterScriptRunner* scripts,
                std::function<std::shared_ptr<const Config>()> config, const RedisConfig& redis);
  ~LocalRefusals();
  LocalRefusals(const LocalRefusals&) = delete;
  LocalRefusals& operator=(const LocalRefusals&) = delete;

  // The decision client (or the cluster client) became ready (or not): follow it, or empty
  // the cache.
  void OnDecisionConnection(bool ready);
  void Stop(std::function<void()> done);

  std::optional<Verdict> Answer(const Config& config, const PolicyRequest& request);
  Ticket Prepare(const Config& config, const PolicyRequest& request) const;
  void Learn(const Ticket& ticket, const Verdict& verdict);
  void Clear();

  const Counters& counters() const { return counters_; }
  bool usable() const;
  // Primaries heard on a cluster (one listener each); 1 or 0 on one Redis.
  size_t listeners() const;

  // The loop's access cache (core/access_cache.h), emptied with the refusals on everything
  // but a window's change. Usable for config only while usable() and the key prefix is the
  // tracked one; PolicyStore reads and fills it.
  AccessCache& access() { return access_; }
  bool AccessUsable(const Config& config) const {
    return usable() && config.redis.key_prefix == tracked_prefix_;
  }
  Counters& mutable_counters() { return counters_; }

 private:
  // The throttles of subjects that share one slot (home): one record_throttles call.
  struct FlushCall {
    std::string home;  // '' on one Redis: every subject in one call
    std::vector<ThrottleBatch> batches;
  };

  LocalRefusals(uv_loop_t* loop, std::function<std::shared_ptr<const Config>()> config,
                const RedisConfig& redis);
  void OnInvalidation(const InvalidationListener::Keys* keys);
  void ScheduleFlush(uint64_t delay_ms);
  void Flush();
  std::vector<FlushCall> GroupBySlot(std::vector<ThrottleBatch> batches) const;
  void RunRecordThrottles(const Config& config, const FlushCall& call,
                          std::vector<std::string> args, RedisClient::Callback done);
  // One call's reply; false when its throttles were lost (the cache is then emptied).
  bool OnRecorded(const FlushCall& call, const Result<RedisValue>& reply, uint64_t generation,
                  int events);

  uv_loop_t* loop_;
  std::function<std::shared_ptr<const Config>()> config_;
  // One Redis: the decision client, its scripts, the listener following it.
  RedisClient* decision_ = nullptr;
  ScriptRunner* scripts_ = nullptr;
  std::unique_ptr<InvalidationListener> listener_;
  // A Redis Cluster: the router, its scripts, one listener per primary.
  ClusterClient* cluster_ = nullptr;
  ClusterScriptRunner* cluster_scripts_ = nullptr;
  std::unique_ptr<ClusterInvalidation> cluster_listener_;
  RefusalCache cache_;
  AccessCache access_;
  uv_timer_t flush_timer_;
  bool flush_in_flight_ = false;
  bool probe_waiting_ = false;  // a probe was asked for while a flush was in flight
  bool stopped_ = false;
  // [redis] key_prefix at start: the listener tracks its keys only, so after a reload to
  // another prefix the cache is bypassed (until a restart).
  std::string tracked_prefix_;
  Counters counters_;
};

}  // namespace policyd
