// The local refusal cache and the access cache of one event loop, wired to Redis (issue 16):
// the pure RefusalCache (lib/core/refusal_cache.h) and AccessCache (lib/core/access_cache.h),
// an InvalidationListener that empties them whenever read-mostly state changes, and a flusher that records its local refusals as throttles
// (record_throttles.lua) every kFlushIntervalMs, on the decision connection; a subject just
// refused by Redis is asked for its headroom at once (kProbeDelayMs).
//
// The cache is used only while both connections are ready and talk to the same server; it
// is emptied before the next decision whenever either connection is lost (the decision
// client's ready listener calls OnDecisionConnection(false); the listener reports its own
// loss), on every invalidation, and on a config reload (Clear()).
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
  // RefusalCacheLimits::max_batch_per_subject; beyond that, Redis decides).
  static constexpr uint64_t kFlushIntervalMs = 20;
  static constexpr uint64_t kProbeDelayMs = 1;

  struct Ticket {
    std::optional<RefusalKey> key;
    uint64_t sent_ms = 0;
    uint64_t generation = 0;
  };
  // Written on the loop thread; atomic because the primary loop's /metrics reads them.
  struct Counters {
    std::atomic<uint64_t> hits{0};           // requests refused locally
    std::atomic<uint64_t> clears{0};         // a non-empty cache emptied (invalidation, loss, reload)
    std::atomic<uint64_t> invalidations{0};  // invalidation messages heard
    std::atomic<uint64_t> throttles_recorded{0};
    std::atomic<uint64_t> access_hits{0};    // access cache passes (fast path or pre-check)
    std::atomic<uint64_t> access_fills{0};   // access_facts answers stored
    std::atomic<uint64_t> access_clears{0};  // a non-empty access cache emptied
    // RCPT pre-checks of cached passes (core/rcpt_precheck.h): answered by plain reads, or
    // handed to decide.lua (a block key, a window without room, an error reply).
    std::atomic<uint64_t> rcpt_prechecks_commands{0};
    std::atomic<uint64_t> rcpt_prechecks_script{0};
  };

  // decision: the loop's decision client (outlives this); config: read at each flush.
  LocalRefusals(uv_loop_t* loop, RedisClient* decision, ScriptRunner* scripts,
                std::function<std::shared_ptr<const Config>()> config,
                const RedisConfig& redis);
  ~LocalRefusals();
  LocalRefusals(const LocalRefusals&) = delete;
  LocalRefusals& operator=(const LocalRefusals&) = delete;

  // The decision client became ready (or not): follow it, or empty the cache.
  void OnDecisionConnection(bool ready);
  void Stop(std::function<void()> done);

  std::optional<Verdict> Answer(const Config& config, const PolicyRequest& request);
  Ticket Prepare(const Config& config, const PolicyRequest& request) const;
  void Learn(const Ticket& ticket, const Verdict& verdict);
  void Clear();

  const Counters& counters() const { return counters_; }
  bool usable() const;

  // The loop's access cache (core/access_cache.h), emptied with the refusals on everything
  // but a window's change. Usable for config only while usable() and the key prefix is the
  // tracked one; PolicyStore reads and fills it.
  AccessCache& access() { return access_; }
  bool AccessUsable(const Config& config) const {
    return usable() && config.redis.key_prefix == tracked_prefix_;
  }
  Counters& mutable_counters() { return counters_; }

 private:
  void OnInvalidation(const InvalidationListener::Keys* keys);
  void ScheduleFlush(uint64_t delay_ms);
  void Flush();

  uv_loop_t* loop_;
  RedisClient* decision_;
  ScriptRunner* scripts_;
  std::function<std::shared_ptr<const Config>()> config_;
  RefusalCache cache_;
  AccessCache access_;
  std::unique_ptr<InvalidationListener> listener_;
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
