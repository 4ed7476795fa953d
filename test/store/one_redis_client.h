// One RedisClient on a private libuv loop, connected to one redis-server: what the store tests
// that compare a Redis Cluster with one Redis run the one-Redis side on (both store test
// binaries include it).
#pragma once

#include <doctest/doctest.h>
#include <uv.h>

#include <chrono>
#include <functional>
#include <memory>

#include "store/redis_client.h"

namespace policyd::test {

struct OneRedisClient {
  // timeout_s bounds every RunUntil (a test that waits for a reply never hangs).
  explicit OneRedisClient(int port, int timeout_s = 10) : timeout_s(timeout_s) {
    uv_loop_init(&loop);
    RedisEndpoint endpoint;
    endpoint.host = "127.0.0.1";
    endpoint.port = port;
    client = std::make_unique<RedisClient>(&loop, endpoint, RedisClientOptions{});
    client->Start();
    RunUntil([this] { return client->ready(); });
    REQUIRE(client->ready());
  }
  ~OneRedisClient() {
    bool stopped = false;
    client->Stop([&stopped] { stopped = true; });
    RunUntil([&stopped] { return stopped; });
    uv_run(&loop, UV_RUN_DEFAULT);
    client.reset();
    uv_loop_close(&loop);
  }
  OneRedisClient(const OneRedisClient&) = delete;
  OneRedisClient& operator=(const OneRedisClient&) = delete;

  // Runs the loop until done() or timeout_s has passed.
  void RunUntil(const std::function<bool()>& done) {
    auto end = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    while (!done() && std::chrono::steady_clock::now() < end) uv_run(&loop, UV_RUN_ONCE);
  }

  int timeout_s;
  uv_loop_t loop;
  std::unique_ptr<RedisClient> client;
};

}  // namespace policyd::test
