#include "store/loop_context.h"

#include "store/redis_connect.h"

namespace policyd {

LoopContext::LoopContext(uv_loop_t* loop, std::shared_ptr<const Config> config,
                         SharedState* shared)
    : loop_(loop), config_(std::move(config)), shared_(shared) {}

LoopContext::~LoopContext() = default;

Status LoopContext::Open() {
  Result<std::unique_ptr<RedisClient>> client = MakeRedisClient(loop_, config_->redis);
  if (!client.ok()) return client.error();
  redis_ = std::move(*client);
  store_ = std::make_unique<PolicyStore>(redis_.get());
  reports_ = std::make_unique<ReportStore>(redis_.get(), &store_->scripts());
  return Ok{};
}

void LoopContext::StartRedis() {
  redis_->SetReadyListener([this](bool ready) {
    redis_ready_ = ready;
    if (ready) store_->scripts().LoadAll(config_->server.request_timeout_ms);
  });
  redis_->Start();
}

void LoopContext::Stop(std::function<void()> done) { redis_->Stop(std::move(done)); }

Metrics LoopContext::MetricsSnapshot() {
  std::lock_guard<std::mutex> lock(metrics_mutex_);
  return metrics_;
}

}  // namespace policyd
