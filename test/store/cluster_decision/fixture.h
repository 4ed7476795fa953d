// Shared by the store_cluster_decision_tests sources (issue 17): the one 3+3 cluster of the
// binary, started on first use, the test subjects placed by slot, and small synchronous helpers
// over subject_count.lua, subject_refund.lua and ClusterDecision.
#pragma once

#include <doctest/doctest.h>

#include <barrier>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "../cluster_fixture.h"
#include "../one_redis_client.h"
#include "../redis_server.h"
#include "core/cluster_slot.h"
#include "store/cluster_decision.h"
#include "store/cluster_script_runner.h"
#include "store/script_runner.h"

namespace policyd::test {

inline constexpr int64_t kNow = 1800000000000;  // an injected clock (ms)
inline constexpr int64_t kSpan = 300000;        // reservation span

inline Cluster& SharedCluster() {
  static Cluster cluster(/*replicas=*/true);
  return cluster;
}

inline std::string RateKey(const std::string& tag) { return "pd:rate:{" + tag + "}"; }

inline int64_t Total(const std::string& tag, const std::string& suffix = "messages:3600") {
  std::string v = SharedCluster().nodes[OwnerOf(tag)]->CmdOne(
      {"HGET", RateKey(tag), suffix + ":total"});
  if (v == "(nil)") return 0;
  REQUIRE_MESSAGE(v.find_first_not_of("0123456789") == std::string::npos, v);
  return std::stoll(v);
}

// Runs a script synchronously on the router's loop.
inline Result<RedisValue> RunScript(Router& router, ClusterScriptRunner& runner,
                                    const std::string& name, const std::string& tag,
                                    std::vector<std::string> args) {
  std::optional<Result<RedisValue>> out;
  runner.Run(name, RateKey(tag), std::move(args), 2000,
             [&out](Result<RedisValue> r) { out = std::move(r); });
  router.RunUntil([&out] { return out.has_value(); });
  REQUIRE(out.has_value());
  return std::move(*out);
}

inline SubjectCallContext Ctx(const std::string& id, int64_t now = kNow) {
  SubjectCallContext ctx;
  ctx.message_id = id;
  ctx.now_ms = now;
  ctx.reservation_ms = kSpan;
  return ctx;
}

inline SubjectOutcome Count(Router& router, ClusterScriptRunner& runner,
                            const std::string& tag, const std::string& id, int64_t max,
                            int64_t now = kNow) {
  SubjectCall call{tag, {{"messages", 3600, max}, {"recipients", 60, 1000}}};
  return ParseSubjectCountReply(RunScript(router, runner, "subject_count", tag,
                                          BuildSubjectCountArgs(Ctx(id, now), call,
                                                                SubjectCosts{1, 1, 0})));
}

inline std::string Refund(Router& router, ClusterScriptRunner& runner, const std::string& tag,
                   const std::string& id, int64_t now = kNow, int64_t* units = nullptr) {
  auto r = RunScript(router, runner, "subject_refund", tag,
                     BuildSubjectRefundArgs(Ctx(id, now), tag));
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  REQUIRE(r->elements.size() == 2);
  if (units) *units = r->elements[1].AsInt();
  return r->elements[0].AsString();
}

using Status = SubjectOutcome::Status;
using Kind = CombinedVerdict::Kind;

// A decision's limits for one request: messages per hour on the user, account and IP.
inline std::vector<TaggedLimit> Limits(const std::string& user, int64_t nu,
                                       const std::string& account, int64_t na,
                                       const std::string& ip, int64_t ni) {
  return {{user, {"messages", 3600, nu}}, {account, {"messages", 3600, na}},
          {ip, {"messages", 3600, ni}}};
}

template <typename RunUntil>
SubjectDecision DecideNow(ClusterDecision& d, RunUntil run_until, const std::string& id,
                          const std::vector<TaggedLimit>& limits, uint64_t timeout_ms = 5000) {
  std::optional<SubjectDecision> out;
  SubjectCallContext ctx = Ctx(id);
  ctx.timeout_ms = timeout_ms;
  d.Decide(ctx, limits, SubjectCosts{1, 1, 1000},
           [&out](SubjectDecision r) { out = std::move(r); });
  run_until([&] { return out.has_value() && d.refunds_in_flight() == 0; });
  REQUIRE(out.has_value());
  return std::move(*out);
}

// The race's and the resharding's policyd instances: each a Router (ClusterClient on its own
// loop) on seed nodes[i % 3], its ClusterScriptRunner and ClusterDecision. The function
// library is loaded on every primary first, as policyd loads it at start: a burst of calls
// that all found it missing would each load it on every primary (ClusterScriptRunner).
// Destroyed in reverse order of their dependencies.
struct Instances {
  std::vector<std::unique_ptr<Router>> routers;
  std::vector<std::unique_ptr<ClusterScriptRunner>> runners;
  std::vector<std::unique_ptr<ClusterDecision>> decisions;

  // warm: a tag base of the caller's own (its refunds load the library on each primary).
  Instances(Cluster& cluster, int count, bool retry_refused, const std::string& warm) {
    for (int i = 0; i < count; ++i) {
      routers.push_back(std::make_unique<Router>(cluster.nodes[i % 3]->port()));
      runners.push_back(std::make_unique<ClusterScriptRunner>(&routers[i]->client()));
      decisions.push_back(std::make_unique<ClusterDecision>(
          ClusterSubjectCall(runners[i].get()), retry_refused));
    }
    for (int p = 0; p < 3; ++p) Refund(*routers[0], *runners[0], TagOn(p, warm), "warm");
  }
  ~Instances() {
    decisions.clear();
    runners.clear();
    routers.clear();
  }
};

// One redis-server and a client on a loop of its own: ClusterDecision on one Redis.
// Run(done) runs the loop until done() or timeout_seconds have passed.
struct OneRedisLoop {
  RedisServer redis;
  OneRedisClient one;
  std::unique_ptr<RedisClient>& client = one.client;

  explicit OneRedisLoop(int timeout_seconds) : one(redis.port(), timeout_seconds) {}
  template <typename Done>
  void Run(Done done) {
    one.RunUntil(done);
  }
};

}  // namespace policyd::test
