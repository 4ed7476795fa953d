#include "store/redis_connect.h"

#include "core/redis_url.h"

namespace policyd {

Result<std::unique_ptr<RedisClient>> MakeRedisClient(uv_loop_t* loop, const RedisConfig& redis) {
  // The cluster router (ClusterClient) is ready; the decision's per-subject shape is not.
  if (!redis.cluster.empty()) {
    return Error{ErrorCode::kInvalid,
                 "redis.cluster: decisions on Redis Cluster are not served yet (issue 17)"};
  }
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
