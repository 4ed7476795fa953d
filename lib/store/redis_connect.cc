#include "store/redis_connect.h"

#include "core/redis_url.h"

namespace policyd {

Result<std::unique_ptr<RedisClient>> MakeRedisClient(uv_loop_t* loop, const RedisConfig& redis) {
  Result<RedisEndpoint> endpoint = ParseRedisUrl(redis.url);
  if (!endpoint.ok()) return endpoint.error();
  RedisClientOptions options{redis.connect_timeout_ms, redis.reconnect_min_ms,
                             redis.reconnect_max_ms};
  auto client = std::make_unique<RedisClient>(loop, *endpoint, options);
  if (!redis.sentinels.empty()) {
    client->UseSentinel(std::make_unique<SentinelResolver>(
        loop, redis.sentinels, redis.master_name, *endpoint, redis.connect_timeout_ms));
  }
  return client;
}

}  // namespace policyd
