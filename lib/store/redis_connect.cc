#include "store/redis_connect.h"

#include <fmt/format.h>

namespace policyd {

namespace {

RedisClientOptions ClientOptions(const RedisConfig& redis) {
  return RedisClientOptions{redis.connect_timeout_ms, redis.reconnect_min_ms,
                            redis.reconnect_max_ms};
}

}  // namespace

Result<std::unique_ptr<RedisClient>> MakeRedisClient(uv_loop_t* loop, const RedisConfig& redis) {
  if (!redis.cluster.empty()) {
    return Error{ErrorCode::kInvalid, "redis.cluster is set: one Redis client cannot serve it"};
  }
  Result<RedisEndpoint> endpoint = ParseRedisUrl(redis.url);
  if (!endpoint.ok()) return endpoint.error();
  auto client = std::make_unique<RedisClient>(loop, *endpoint, ClientOptions(redis));
  if (!redis.sentinels.empty()) {
    client->UseSentinel(std::make_unique<SentinelResolver>(
        loop, redis.sentinels, redis.master_name, *endpoint, redis.connect_timeout_ms));
  }
  return client;
}

Result<std::vector<RedisEndpoint>> ClusterSeeds(const RedisConfig& redis) {
  Result<RedisEndpoint> credentials = ParseRedisUrl(redis.url);
  if (!credentials.ok()) return credentials.error();
  std::vector<RedisEndpoint> seeds;
  for (const std::string& seed : redis.cluster) {
    // "host:port" or "[v6]:port" (config_keys.cc CheckCluster has checked the port is there).
    size_t colon = seed.rfind(':');
    if (colon == std::string::npos) {
      return Error{ErrorCode::kInvalid, fmt::format("redis.cluster: '{}' is not host:port", seed)};
    }
    RedisEndpoint e;
    e.host = seed.substr(0, colon);
    if (e.host.size() >= 2 && e.host.front() == '[' && e.host.back() == ']') {
      e.host = e.host.substr(1, e.host.size() - 2);
    }
    try {
      e.port = std::stoi(seed.substr(colon + 1));
    } catch (...) {
      e.port = 0;
    }
    if (e.host.empty() || e.port < 1 || e.port > 65535) {
      return Error{ErrorCode::kInvalid, fmt::format("redis.cluster: '{}' is not host:port", seed)};
    }
    e.username = credentials->username;
    e.password = credentials->password;
    seeds.push_back(std::move(e));
  }
  return seeds;
}

Result<std::unique_ptr<ClusterClient>> MakeClusterClient(uv_loop_t* loop,
                                                         const RedisConfig& redis) {
  Result<std::vector<RedisEndpoint>> seeds = ClusterSeeds(redis);
  if (!seeds.ok()) return seeds.error();
  if (seeds->empty()) return Error{ErrorCode::kInvalid, "redis.cluster: no seed nodes"};
  return std::make_unique<ClusterClient>(loop, std::move(*seeds), ClientOptions(redis));
}

}  // namespace policyd
