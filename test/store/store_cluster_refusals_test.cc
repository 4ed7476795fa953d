// Issue 17: LocalRefusals on a real Redis Cluster (3 primaries). Two users on two primaries are
// refused by "Redis" (a 421 learnt), asked for their headroom and then refused locally; the
// flush records each one's throttles in that user's own slot (one record_throttles call per
// slot, home = its slot-tag); a write on either primary empties the cache (ClusterInvalidation).
#include <doctest/doctest.h>

#include <string>

#include "cluster_fixture.h"
#include "core/report_slot.h"
#include "store/cluster_script_runner.h"
#include "store/local_refusals.h"

namespace policyd::test {
namespace {

PolicyRequest Eom(const std::string& user) {
  return MakeRequest({{"protocol_state", "END-OF-MESSAGE"},
                      {"sasl_username", user},
                      {"sender", user + "@example.com"},
                      {"client_address", "192.0.2.1"},
                      {"recipient_count", "1"},
                      {"size", "2048"}});
}

Verdict Throttled() {
  Verdict v;
  v.action = Action::kThrottled;
  v.rule = "rate user.messages.3600s";
  v.metric = "messages";
  v.count = 10;
  v.max = 10;
  v.window_ms = 3600000;
  v.retry_after_s = 600;
  return v;
}

}  // namespace

TEST_CASE("local refusals on a cluster: throttles recorded in each user's slot, writes heard") {
  Cluster cluster;
  Router router(cluster.nodes[0]->port());
  ClusterScriptRunner runner(&router.client());
  auto config = std::make_shared<const Config>([] {
    Config c = TestConfig();
    c.abuse.throttle_events = 100000;  // far from a block: local refusals allowed
    return c;
  }());
  LocalRefusals refusals(
      router.loop(), &router.client(), &runner, [config] { return config; }, config->redis);
  router.RunUntil([&] { return refusals.usable(); });
  REQUIRE(refusals.usable());
  CHECK(refusals.listeners() == 3);

  // Two users whose keys live on primaries 0 and 1.
  std::string alice = TagOn(0, "user:alice").substr(5);
  std::string bob = TagOn(1, "user:bob").substr(5);
  for (const std::string& user : {alice, bob}) {
    LocalRefusals::Ticket t = refusals.Prepare(*config, Eom(user));
    REQUIRE(t.key.has_value());
    refusals.Learn(t, Throttled());
  }
  // The headroom probes (record_throttles with n = 0) run in each slot; then both are refused
  // here, 3 times each.
  int answered[2] = {0, 0};
  router.RunUntil([&] {
    for (int i = 0; i < 2; ++i) {
      if (answered[i] < 3 && refusals.Answer(*config, Eom(i == 0 ? alice : bob))) ++answered[i];
    }
    return answered[0] == 3 && answered[1] == 3;
  });
  REQUIRE(answered[0] == 3);
  REQUIRE(answered[1] == 3);
  router.RunUntil([&] { return refusals.counters().throttles_recorded == 6; });
  CHECK(refusals.counters().hits == 6);
  CHECK(refusals.counters().throttles_recorded == 6);
  for (const std::string& user : {alice, bob}) {
    std::string throttles = "pd:throttles:{user:" + user + "}";
    CHECK(router.Call(throttles, {"LLEN", throttles})->AsInt() == 3);
    std::string evidence = "pd:evidence:{user:" + user + "}";
    CHECK(router.Call(evidence, {"LLEN", evidence})->AsInt() >= 1);
  }

  SUBCASE("a write on the other user's primary empties the cache") {
    uint64_t invalidations = refusals.counters().invalidations;
    std::string key = "pd:user:{user:" + bob + "}";
    REQUIRE(router.Call(key, {"HSET", key, "account", "acme"}).ok());
    router.RunUntil([&] { return refusals.counters().invalidations > invalidations; });
    CHECK(refusals.counters().invalidations > invalidations);
    CHECK(refusals.counters().clears >= 1);
    CHECK_FALSE(refusals.Answer(*config, Eom(alice)).has_value());
  }
  SUBCASE("the cluster not ready: nothing is answered locally") {
    uint64_t resets = refusals.counters().resets;
    refusals.OnDecisionConnection(false);  // as the client's ready listener calls it
    CHECK(refusals.counters().resets == resets + 1);
    CHECK_FALSE(refusals.Answer(*config, Eom(alice)).has_value());
  }

  bool stopped = false;
  refusals.Stop([&stopped] { stopped = true; });
  router.RunUntil([&stopped] { return stopped; });
  CHECK(stopped);
}

}  // namespace policyd::test
