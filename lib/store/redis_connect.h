// A RedisClient for the [redis] table of a configuration: the URL's endpoint, the timeouts,
// and Sentinel discovery when [redis] sentinels is set. Shared by policyd's event loops and
// policyctl, so both reach the same Redis the same way.
#pragma once

#include <uv.h>

#include <memory>

#include "core/config.h"
#include "core/result.h"
#include "store/redis_client.h"

namespace policyd {

// Not started (call Start()). Fails only on a malformed [redis] url.
Result<std::unique_ptr<RedisClient>> MakeRedisClient(uv_loop_t* loop, const RedisConfig& redis);

}  // namespace policyd
