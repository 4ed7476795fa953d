// Issue 17: the function library on a real Redis Cluster with replicas (3 primaries, 3
// replicas, node timeout 1 s). A function called with keys of three slots runs on all three
// primaries, all loaded by the first "function not found"; a primary whose functions were
// flushed is loaded again by its next call; after kill -9 of a primary and its replica's
// promotion, calls to its slots succeed again without restarting anything; a burst of calls
// that find it missing loads it once.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "cluster_fixture.h"
#include "store/cluster_script_runner.h"

namespace policyd::test {
namespace {

// A user on each primary: "user:uN" whose slot is in primary i's range.
std::string UserOn(int primary) { return TagOn(primary, "user:u"); }

std::string UserKey(const std::string& tag) { return "pd:user:{" + tag + "}"; }

// user_show's reply: { 'ok', { field, value, ... }, { grant, ... } }.
Result<RedisValue> ShowUser(Router& router, ClusterScriptRunner& runner, const std::string& tag,
                            uint64_t timeout_ms = 2000) {
  std::optional<Result<RedisValue>> out;
  runner.Run("user_show", UserKey(tag), {"pd:", tag}, timeout_ms,
             [&out](Result<RedisValue> r) { out = std::move(r); });
  router.RunUntil([&out] { return out.has_value(); });
  REQUIRE(out.has_value());
  return std::move(*out);
}

void CheckPlan(const Result<RedisValue>& r, const std::string& plan) {
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  REQUIRE(r->elements.size() == 3);
  CHECK(r->elements[0].AsString() == "ok");
  REQUIRE(r->elements[1].elements.size() == 2);
  CHECK(r->elements[1].elements[0].AsString() == "plan");
  CHECK(r->elements[1].elements[1].AsString() == plan);
}

}  // namespace

TEST_CASE("ClusterScriptRunner: every primary, FUNCTION FLUSH, and a failover") {
  Cluster cluster(/*replicas=*/true);
  Router router(cluster.nodes[0]->port());
  ClusterScriptRunner runner(&router.client());
  std::string users[3] = {UserOn(0), UserOn(1), UserOn(2)};
  for (int i = 0; i < 3; ++i) {
    CAPTURE(users[i]);
    REQUIRE(
        router.Call(UserKey(users[i]), {"HSET", UserKey(users[i]), "plan", "p" + std::to_string(i)})
            .ok());
    // Written where the slot lives, and there only.
    CHECK(cluster.nodes[i]->CmdOne({"EXISTS", UserKey(users[i])}) == "1");
  }

  {  // the first call ("function not found") loads every primary
    for (int i = 0; i < 3; ++i) {
      CheckPlan(ShowUser(router, runner, users[i]), "p" + std::to_string(i));
    }
    CHECK(runner.reloads() == 1);
    for (int i = 0; i < 3; ++i) {
      CHECK(cluster.nodes[i]->Cmd({"FUNCTION", "LIST"}).size() > 0);
    }

    // FUNCTION FLUSH on one primary: its next call loads it again; the others need nothing.
    cluster.nodes[1]->Cmd({"FUNCTION", "FLUSH"});
    CheckPlan(ShowUser(router, runner, users[0]), "p0");
    CHECK(runner.reloads() == 1);
    CheckPlan(ShowUser(router, runner, users[1]), "p1");
    CHECK(runner.reloads() == 2);
    CheckPlan(ShowUser(router, runner, users[2]), "p2");
    CHECK(runner.reloads() == 2);

    // kill -9 of primary 0 once its replica has every write (and the library, which
    // replicates); calls to its slots work again after the promotion.
    REQUIRE(router.Call(UserKey(users[0]), {"WAIT", "1", "2000"})->AsInt() == 1);
    uint64_t map_reads = router.client().map_reads();
    cluster.KillPrimaryAndAwaitPromotion(0);
    // The loop sees the lost connection and reads the new map (policyd's loop runs all the
    // time; here it runs only inside calls). A call sent before that fails, as any call in
    // flight to a dying primary does.
    router.RunUntil(
        [&] { return router.client().map_reads() > map_reads && router.client().ready(); });
    CheckPlan(ShowUser(router, runner, users[0], 5000), "p0");
    CheckPlan(ShowUser(router, runner, users[1]), "p1");
    CheckPlan(ShowUser(router, runner, users[2]), "p2");
    CHECK(router.client().Primaries().size() == 3);
  }

  // LoadAll loads every primary up front: flushed everywhere, no call needs a reload.
  for (int i : {1, 2, 3}) cluster.nodes[i]->Cmd({"FUNCTION", "FLUSH"});
  runner.LoadAll(2000);
  router.RunUntil([&] {
    for (int i : {1, 2, 3}) {
      if (cluster.nodes[i]->Cmd({"FUNCTION", "LIST"}).empty()) return false;
    }
    return true;
  });
  uint64_t reloads = runner.reloads();
  for (int i = 0; i < 3; ++i)
    CheckPlan(ShowUser(router, runner, users[i]), "p" + std::to_string(i));
  CHECK(runner.reloads() == reloads);

  // A burst (300 calls in flight over the three primaries) that all find the library missing
  // loads it once, and every call is answered: before, each call loaded it on every primary.
  for (int i : {1, 2, 3}) cluster.nodes[i]->Cmd({"FUNCTION", "FLUSH"});
  constexpr int kBurst = 300;
  int answered = 0, right = 0;
  for (int n = 0; n < kBurst; ++n) {
    runner.Run("user_show", UserKey(users[n % 3]), {"pd:", users[n % 3]}, 5000,
               [&answered, &right, n](Result<RedisValue> r) {
                 ++answered;
                 if (r.ok() && r->elements.size() == 3 && r->elements[1].elements.size() == 2 &&
                     r->elements[1].elements[1].AsString() == "p" + std::to_string(n % 3)) {
                   ++right;
                 }
               });
  }
  router.RunUntil([&] { return answered == kBurst; });
  CHECK(right == kBurst);
  CHECK(runner.reloads() == reloads + 1);
}

// During a migration the call is ASKed to the importing node, which has no library yet: it is
// loaded there too (every primary is), and the call retried through the same ASK succeeds.
TEST_CASE("ClusterScriptRunner: a call ASKed to a node without the library") {
  Cluster cluster;
  Router router(cluster.nodes[0]->port());
  ClusterScriptRunner runner(&router.client());
  std::string user = UserOn(0);
  std::string slot = std::to_string(KeySlot(user));
  cluster.nodes[1]->Cmd({"CLUSTER", "SETSLOT", slot, "IMPORTING", cluster.ids[0]});
  cluster.nodes[0]->Cmd({"CLUSTER", "SETSLOT", slot, "MIGRATING", cluster.ids[1]});
  // The user's key is not on node 0 (never written): node 0 answers ASK for it.
  Result<RedisValue> r = ShowUser(router, runner, user);
  REQUIRE_MESSAGE(r.ok(), r.error().message);
  CHECK(r->elements[0].AsString() == "notfound");
  CHECK(runner.reloads() == 1);
  CHECK(router.client().redirects() >= 1);
  CHECK(cluster.nodes[1]->Cmd({"FUNCTION", "LIST"}).size() > 0);
}

}  // namespace policyd::test
