// What the two faces of one event loop share: the loop, the current config snapshot, the
// loop's Redis client with its PolicyStore, ReportStore and local refusal cache, and the
// loop's counters. The
// Supervisor's ServingLoop builds one per thread and attaches the policy Server and, on the
// primary loop, the HttpServer to it; neither face knows the other.
//
// It lives in lib/store because it is the store seen from a loop (client, scripts, readiness)
// and both faces may depend on the store but not on each other.
//
// Everything but the SharedState, the metrics under metrics_mutex() and redis_ready() is used
// on the loop's thread only.
#pragma once

#include <uv.h>

#include <atomic>
#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>

#include "core/config.h"
#include "core/metrics.h"
#include "core/result.h"
#include "store/cluster_client.h"
#include "store/cluster_policy_store.h"
#include "store/cluster_script_runner.h"
#include "store/local_refusals.h"
#include "store/policy_store.h"
#include "store/redis_client.h"
#include "store/report_store.h"

namespace policyd {

// What the loops of one process share: the connection count behind max_connections, and a
// way for the primary loop's /metrics to see every loop's counters.
struct SharedState {
  int loops = 1;  // how many loops run; more than one share TCP ports with SO_REUSEPORT
  std::atomic<std::size_t> connections{0};
  std::function<Metrics()> merged_metrics;
  std::function<MetricsGauges()> gauges;
};

class LoopContext {
 public:
  // loop must outlive the context. Nothing connects until Open() and StartRedis().
  LoopContext(uv_loop_t* loop, std::shared_ptr<const Config> config, SharedState* shared);
  ~LoopContext();  // REQUIRES: Stop() done, if Open() succeeded
  LoopContext(const LoopContext&) = delete;
  LoopContext& operator=(const LoopContext&) = delete;

  // Creates the Redis client (or, with [redis] cluster, the cluster router) and the stores;
  // fails only on a malformed [redis] url or cluster seed.
  Status Open();
  // Connects; each time Redis becomes ready the scripts are loaded.
  void StartRedis();
  // Stops the Redis client; done runs once its handles are closed.
  void Stop(std::function<void()> done);

  uv_loop_t* loop() { return loop_; }
  SharedState* shared() { return shared_; }
  // The snapshot new requests start with; a reload swaps it on this loop's thread.
  const std::shared_ptr<const Config>& config() const { return config_; }
  // Also forgets the local refusals: the new config's limits and messages apply to the next
  // request.
  void set_config(std::shared_ptr<const Config> config);
  // Decides one request on one Redis (PolicyStore) or on a cluster (ClusterPolicyStore), as
  // PolicyStore::Decide. REQUIRES: Open() succeeded.
  void Decide(std::shared_ptr<const Config> config, const PolicyRequest& request,
              PolicyStore::Callback callback, DecideOptions options = {});

  // One Redis: null on a cluster.
  PolicyStore* store() { return store_.get(); }
  RedisClient* redis() { return redis_.get(); }  // for webhook delivery's stream commands
  // A Redis Cluster ([redis] cluster): null on one Redis.
  ClusterClient* cluster() { return cluster_.get(); }
  ClusterScriptRunner* cluster_scripts() { return cluster_scripts_.get(); }
  ClusterPolicyStore* cluster_store() { return cluster_store_.get(); }
  // 421s answered without Redis and the access cache (issue 16), on one Redis or a cluster;
  // null until Open().
  LocalRefusals* refusals() { return refusals_.get(); }
  ReportStore* reports() { return reports_.get(); }

  // This loop's counters: written on the loop's thread under metrics_mutex(), read by the
  // primary loop's /metrics through MetricsSnapshot().
  Metrics& metrics() { return metrics_; }
  std::mutex& metrics_mutex() { return metrics_mutex_; }
  Metrics MetricsSnapshot();
  bool redis_ready() const { return redis_ready_; }

 private:
  Status OpenCluster();

  uv_loop_t* loop_;
  std::shared_ptr<const Config> config_;
  SharedState* shared_;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<PolicyStore> store_;
  std::unique_ptr<ClusterClient> cluster_;
  std::unique_ptr<ClusterScriptRunner> cluster_scripts_;
  std::unique_ptr<ClusterPolicyStore> cluster_store_;
  std::unique_ptr<ReportStore> reports_;
  std::unique_ptr<LocalRefusals> refusals_;
  std::mutex metrics_mutex_;
  Metrics metrics_;
  std::atomic<bool> redis_ready_{false};
};

}  // namespace policyd
