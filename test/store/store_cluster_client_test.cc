// Issue 17: the cluster router against a real three-primary Redis Cluster (redis-server
// --cluster-enabled, nodes met and slots assigned by the test): routing by slot, MOVED after a
// slot changes hands, ASK during a migration, and a dead primary's calls ending by their
// deadline instead of hanging.
#include <doctest/doctest.h>

#include "cluster_fixture.h"
#include "store/cluster_client.h"

namespace policyd::test {
namespace {

int OwnerOf(Cluster& c, const std::string& key) {
  for (int i = 0; i < 3; ++i) {
    if (c.nodes[i]->CmdOne({"EXISTS", key}) == "1") return i;
  }
  return -1;
}

}  // namespace

TEST_CASE("ClusterClient: each call reaches the primary of its slot") {
  Cluster cluster;
  Router router(cluster.nodes[1]->port());  // any node serves as a seed
  CHECK(router.client().Primaries().size() == 3);
  int seen[3] = {0, 0, 0};
  for (int i = 0; i < 30; ++i) {
    std::string key = "pd:user:{user:u" + std::to_string(i) + "}";
    Result<RedisValue> r = router.Call(key, {"SET", key, "1"});
    REQUIRE(r.ok());
    CHECK(r->AsString() == "OK");
    int owner = OwnerOf(cluster, key);
    int slot = KeySlot(key);
    CHECK(owner == (slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2));
    if (owner >= 0) ++seen[owner];
  }
  CHECK(seen[0] > 0);
  CHECK(seen[1] > 0);
  CHECK(seen[2] > 0);
  CHECK(router.client().redirects() == 0);
}

TEST_CASE("ClusterClient: MOVED after a slot changed hands; ASK during a migration") {
  Cluster cluster;
  Router router(cluster.nodes[0]->port());
  const std::string moved_key = "pd:user:{user:alice}";  // slot 4489, node 0
  REQUIRE(KeySlot(moved_key) == 4489);
  cluster.MoveSlot(4489, 0, 2);
  Result<RedisValue> r = router.Call(moved_key, {"SET", moved_key, "1"});
  REQUIRE(r.ok());
  CHECK(r->AsString() == "OK");
  CHECK(OwnerOf(cluster, moved_key) == 2);
  CHECK(router.client().redirects() == 1);
  // The map learnt it: the next call goes straight there.
  REQUIRE(router.Call(moved_key, {"GET", moved_key}).ok());
  CHECK(router.client().redirects() == 1);

  // Slot 866 ("hello") is being migrated from node 0 to node 1; a key node 0 does not hold
  // is asked for on node 1, with ASKING, and the map is left as it is.
  const std::string ask_key = "hello";
  cluster.nodes[1]->Cmd({"CLUSTER", "SETSLOT", "866", "IMPORTING", cluster.ids[0]});
  cluster.nodes[0]->Cmd({"CLUSTER", "SETSLOT", "866", "MIGRATING", cluster.ids[1]});
  r = router.Call(ask_key, {"SET", ask_key, "v"});
  REQUIRE(r.ok());
  CHECK(r->AsString() == "OK");
  // Node 1 answers for an importing slot only after ASKING.
  CHECK(cluster.nodes[0]->CmdOne({"EXISTS", ask_key}).rfind("ERR:ASK 866 ", 0) == 0);
  cluster.nodes[1]->Cmd({"ASKING"});
  CHECK(cluster.nodes[1]->CmdOne({"EXISTS", ask_key}) == "1");
  CHECK(router.client().redirects() == 2);
}

TEST_CASE("ClusterClient: a dead primary's calls end by their deadline; the others go on") {
  Cluster cluster;
  Router router(cluster.nodes[0]->port());
  cluster.nodes[2]->Kill();  // serves slots 10923-16383, no replica
  const std::string dead_key = "foo";  // slot 12182
  const std::string live_key = "bar";  // slot 5061
  Result<RedisValue> dead = router.Call(dead_key, {"SET", dead_key, "1"}, 300);
  REQUIRE_FALSE(dead.ok());
  CHECK((dead.error().code == ErrorCode::kUnavailable || dead.error().code == ErrorCode::kTimeout));
  Result<RedisValue> live = router.Call(live_key, {"SET", live_key, "1"}, 300);
  REQUIRE(live.ok());
  CHECK(live->AsString() == "OK");
}

}  // namespace policyd::test
