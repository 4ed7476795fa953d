// A ReportStore on a Redis of its own, one redis-server or a 3-primary Redis Cluster, with the
// loop its calls run on: the two sides the store tests compare (reviews, signals).
#pragma once

#include <doctest/doctest.h>

#include <functional>
#include <optional>
#include <utility>

#include "cluster_fixture.h"
#include "one_redis_client.h"
#include "redis_server.h"
#include "store/cluster_script_runner.h"
#include "store/report_store.h"
#include "store/script_runner.h"

namespace policyd::test {

// Starts an asynchronous store call, start(done), and runs its loop, run_until(predicate),
// until done has run; returns what it was given.
template <typename T, typename RunUntil, typename Start>
T AwaitCall(RunUntil& run_until, Start start) {
  std::optional<T> out;
  start([&out](T r) { out = std::move(r); });
  run_until([&out] { return out.has_value(); });
  REQUIRE(out.has_value());
  return std::move(*out);
}

struct OneRedisReports {
  RedisServer redis;
  OneRedisClient one{redis.port()};
  ScriptRunner scripts{one.client.get()};
  ReportStore store{one.client.get(), &scripts};

  void RunUntil(const std::function<bool()>& done) { one.RunUntil(done); }
};

struct ClusterReports {
  Cluster cluster;
  Router router{cluster.nodes[0]->port()};
  ClusterScriptRunner runner{&router.client()};
  ReportStore store{&router.client(), &runner};

  void RunUntil(const std::function<bool()>& done) { router.RunUntil(done); }
};

}  // namespace policyd::test
