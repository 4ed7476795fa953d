// The Redis clients for the [redis] table of a configuration: the URL's endpoint, the
// timeouts, and Sentinel discovery when [redis] sentinels is set; or, with [redis] cluster,
// a ClusterClient seeded by those nodes (the URL then gives only the username and password
// every node shares). Shared by policyd's event loops and policyctl, so both reach the same
// Redis the same way.
#pragma once

#include <uv.h>

#include <memory>
#include <vector>

#include "core/config.h"
#include "core/redis_url.h"
#include "core/result.h"
#include "store/cluster_client.h"
#include "store/redis_client.h"

namespace policyd {

// Not started (call Start()). Fails on a malformed [redis] url, or when [redis] cluster is set
// (MakeClusterClient then).
Result<std::unique_ptr<RedisClient>> MakeRedisClient(uv_loop_t* loop, const RedisConfig& redis);

// [redis] cluster's seeds as endpoints, each with the URL's username and password.
Result<std::vector<RedisEndpoint>> ClusterSeeds(const RedisConfig& redis);

// Not started (call Start()). REQUIRES: !redis.cluster.empty().
Result<std::unique_ptr<ClusterClient>> MakeClusterClient(uv_loop_t* loop,
                                                         const RedisConfig& redis);

}  // namespace policyd
