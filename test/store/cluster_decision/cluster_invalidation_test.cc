// Issue 17: the access cache's invalidation on a real Redis Cluster with replicas (a cluster of
// its own: the test flushes and kills nodes). ClusterInvalidation hears a write to a tracked
// key on each of the three primaries, a FLUSHALL on one primary clears everything, and a
// kill -9 of a primary makes it not ready with a clear at once; after the replica's promotion
// it listens to the new primary and hears its writes.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "fixture.h"
#include "store/cluster_invalidation.h"

namespace policyd::test {
namespace {

// Records what on_change reports: every invalidated key, and the clears (nullptr).
struct Heard {
  std::vector<std::string> keys;
  int clears = 0;
  bool Has(const std::string& key) const {
    return std::find(keys.begin(), keys.end(), key) != keys.end();
  }
};

// The user key pd:user:{user:uN} of the first user uN whose slot is on `primary`.
std::string UserKeyOn(int primary, int skip = 0) {
  return "pd:user:{" + TagOn(primary, "user:u", skip) + "}";
}

// Stops the listeners on the router's loop however the test ends (a failed REQUIRE too), so
// that no closed handle is left on the loop.
struct Stopping {
  ClusterInvalidation& invalidation;
  Router& router;
  ~Stopping() {
    bool stopped = false;
    invalidation.Stop([&stopped] { stopped = true; });
    router.RunUntil([&stopped] { return stopped; });
  }
};

}  // namespace

TEST_CASE("cluster invalidation: every primary heard, FLUSHALL clears, failover followed") {
  Cluster cluster(/*replicas=*/true);
  Router router(cluster.nodes[0]->port());
  Heard heard;
  ClusterInvalidation invalidation(
      router.loop(), &router.client(), {"pd:user:", "pd:account:"}, RedisClientOptions{},
      [&heard](const InvalidationListener::Keys* keys) {
        if (keys == nullptr) {
          ++heard.clears;
          return;
        }
        for (std::string_view k : *keys) heard.keys.emplace_back(k);
      });
  Stopping stopping{invalidation, router};
  invalidation.Start();
  router.RunUntil([&] { return invalidation.ready(); });
  REQUIRE(invalidation.ready());
  CHECK(invalidation.listeners() == 3);
  CHECK(heard.clears > 0);  // the set of primaries changed from none to three

  // A write on each primary is heard; the worst delay over 100 writes per primary printed.
  for (int primary = 0; primary < 3; ++primary) {
    std::vector<double> delays_ms;
    for (int n = 0; n < 100; ++n) {
      std::string key = UserKeyOn(primary, n);
      heard.keys.clear();
      auto start = std::chrono::steady_clock::now();
      cluster.nodes[primary]->Cmd({"HSET", key, "plan", "gold"});
      router.RunUntil([&] { return heard.Has(key); }, 1000);
      REQUIRE_MESSAGE(heard.Has(key), key);
      delays_ms.push_back(std::chrono::duration<double, std::milli>(
                              std::chrono::steady_clock::now() - start).count());
    }
    std::sort(delays_ms.begin(), delays_ms.end());
    std::printf("cluster invalidation, primary %d: 100 writes heard, median %.2f ms, "
                "worst %.2f ms (contract 50 ms)\n",
                primary, delays_ms[50], delays_ms.back());
  }
  // An untracked key is not announced.
  heard.keys.clear();
  cluster.nodes[1]->Cmd({"SET", "pd:rate:{" + TagOn(1, "ip:r") + "}", "1"});
  std::string marker = UserKeyOn(1, 200);
  cluster.nodes[1]->Cmd({"HSET", marker, "plan", "gold"});
  router.RunUntil([&] { return heard.Has(marker); }, 1000);
  CHECK(heard.keys == std::vector<std::string>{marker});

  // FLUSHALL on one primary: a clear.
  int clears = heard.clears;
  cluster.nodes[2]->Cmd({"FLUSHALL"});
  router.RunUntil([&] { return heard.clears > clears; }, 1000);
  CHECK(heard.clears > clears);
  CHECK(invalidation.ready());

  // kill -9 of primary 1: not ready and a clear at once (as soon as the loop hears the
  // connection close), ready again once the replica is promoted and heard.
  clears = heard.clears;
  cluster.nodes[1]->Kill();
  auto killed = std::chrono::steady_clock::now();
  router.RunUntil([&] { return !invalidation.ready(); }, 1000);
  CHECK_FALSE(invalidation.ready());
  CHECK(heard.clears > clears);
  std::printf("cluster invalidation: not ready %.2f ms after kill -9 of a primary\n",
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - killed)
                  .count());
  cluster.Await([&] { return cluster.nodes[4]->Cmd({"ROLE"}).front() == "master"; }, 20000);
  REQUIRE(cluster.nodes[4]->Cmd({"ROLE"}).front() == "master");
  router.RunUntil([&] { return invalidation.ready(); }, 20000);
  REQUIRE(invalidation.ready());
  std::printf("cluster invalidation: ready again %.0f ms after the kill\n",
              std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - killed)
                  .count());
  CHECK(invalidation.listeners() == 3);

  // A write on the promoted primary is heard.
  std::string key = UserKeyOn(1, 300);
  heard.keys.clear();
  cluster.nodes[4]->Cmd({"HSET", key, "plan", "gold"});
  router.RunUntil([&] { return heard.Has(key); }, 1000);
  CHECK(heard.Has(key));
}

}  // namespace policyd::test
