#include "store/loop_context.h"

#include "store/redis_connect.h"

namespace policyd {

LoopContext::LoopContext(uv_loop_t* loop, std::shared_ptr<const Config> config,
                         SharedState* shared)
    : loop_(loop), config_(std::move(config)), shared_(shared) {}

LoopContext::~LoopContext() = default;

Status LoopContext::Open() {
  if (!config_->redis.cluster.empty()) return OpenCluster();
  Result<std::unique_ptr<RedisClient>> client = MakeRedisClient(loop_, config_->redis);
  if (!client.ok()) return client.error();
  redis_ = std::move(*client);
  store_ = std::make_unique<PolicyStore>(redis_.get());
  reports_ = std::make_unique<ReportStore>(redis_.get(), &store_->scripts());
  refusals_ = std::make_unique<LocalRefusals>(
      loop_, redis_.get(), &store_->scripts(), [this] { return config_; }, config_->redis);
  store_->set_caches(refusals_.get());
  return Ok{};
}

Status LoopContext::OpenCluster() {
  Result<std::unique_ptr<ClusterClient>> cluster = MakeClusterClient(loop_, config_->redis);
  if (!cluster.ok()) return cluster.error();
  cluster_ = std::move(*cluster);
  cluster_scripts_ = std::make_unique<ClusterScriptRunner>(cluster_.get());
  cluster_store_ =
      std::make_unique<ClusterPolicyStore>(loop_, cluster_.get(), cluster_scripts_.get());
  reports_ = std::make_unique<ReportStore>(cluster_.get(), cluster_scripts_.get());
  refusals_ = std::make_unique<LocalRefusals>(
      loop_, cluster_.get(), cluster_scripts_.get(), [this] { return config_; }, config_->redis);
  cluster_store_->set_caches(refusals_.get());
  return Ok{};
}

void LoopContext::Decide(std::shared_ptr<const Config> config, const PolicyRequest& request,
                         PolicyStore::Callback callback, DecideOptions options) {
  if (cluster_store_) {
    cluster_store_->Decide(std::move(config), request, std::move(callback), std::move(options));
  } else {
    store_->Decide(std::move(config), request, std::move(callback), std::move(options));
  }
}

void LoopContext::StartRedis() {
  if (cluster_) {
    cluster_->SetReadyListener([this](bool ready) {
      redis_ready_ = ready;
      refusals_->OnDecisionConnection(ready);  // empties the caches before the next decision
      if (ready) cluster_scripts_->LoadAll(config_->server.request_timeout_ms);
    });
    cluster_->Start();
    return;
  }
  redis_->SetReadyListener([this](bool ready) {
    redis_ready_ = ready;
    refusals_->OnDecisionConnection(ready);  // empties the cache before the next decision
    if (ready) store_->scripts().LoadAll(config_->server.request_timeout_ms);
  });
  redis_->Start();
}

void LoopContext::set_config(std::shared_ptr<const Config> config) {
  config_ = std::move(config);
  if (refusals_) refusals_->Clear();
}

void LoopContext::Stop(std::function<void()> done) {
  // The listeners close on their own; the clients' done ends the loop's Redis side.
  refusals_->Stop([] {});
  if (cluster_) return cluster_->Stop(std::move(done));
  redis_->Stop(std::move(done));
}

Metrics LoopContext::MetricsSnapshot() {
  std::lock_guard<std::mutex> lock(metrics_mutex_);
  Metrics m = metrics_;
  if (refusals_) {
    const LocalRefusals::Counters& c = refusals_->counters();
    m.refusal_cache_hits = c.hits;
    m.refusal_cache_clears = c.clears;
    m.cache_invalidations = c.invalidations;
    m.cache_resets = c.resets;
    m.local_throttles_recorded = c.throttles_recorded;
    m.access_cache_hits = c.access_hits;
    m.access_cache_fills = c.access_fills;
    m.access_cache_clears = c.access_clears;
    m.rcpt_prechecks["commands"] = c.rcpt_prechecks_commands;
    m.rcpt_prechecks["script"] = c.rcpt_prechecks_script;
  }
  return m;
}

}  // namespace policyd
