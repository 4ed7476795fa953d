#include "store/block_expiry_sweeper.h"

#include "log/log.h"
#include "store/script_runner.h"

namespace policyd {

void BlockExpirySweeper::Start() {
  uint64_t every = context_->config()->webhooks.poll_interval_ms;
  timer_.Start(every, every);
}

void BlockExpirySweeper::Stop(std::function<void()> done) { timer_.Stop(std::move(done)); }

void BlockExpirySweeper::Sweep() {
  if (sweeping_ || !context_->redis_ready()) return;
  sweeping_ = true;
  const Config& c = *context_->config();
  // The ScriptRunner's callback may run after Stop (a failed command at Redis's Stop), but the
  // sweeper lives as long as its ServingLoop, past the Redis client's stop.
  context_->store()->scripts().Run("block_expire_sweep", {c.redis.key_prefix, "0", "100"},
                                   c.server.request_timeout_ms, [this](Result<RedisValue> r) {
                                     sweeping_ = false;
                                     if (!r.ok()) {
                                       POLICYD_LOG_DEBUG("event=block_expiry_sweep_failed {}",
                                                         LogField("error", r.error().message));
                                     }
                                   });
}

}  // namespace policyd
