// Issue 17: the cluster router against a real three-primary Redis Cluster (redis-server
// --cluster-enabled, nodes met and slots assigned by the test): routing by slot, MOVED after a
// slot changes hands, ASK during a migration, and a dead primary's calls ending by their
// deadline instead of hanging.
#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <thread>

#include "redis_server.h"
#include "store/cluster_client.h"

namespace policyd::test {
namespace {

// Three cluster-enabled redis-servers that know each other, slots split in three.
struct Cluster {
  Cluster() {
    for (int i = 0; i < 3; ++i) nodes.push_back(std::make_unique<RedisServer>(true));
    const char* ranges[3][2] = {{"0", "5460"}, {"5461", "10922"}, {"10923", "16383"}};
    for (int i = 0; i < 3; ++i) {
      ids.push_back(nodes[i]->CmdOne({"CLUSTER", "MYID"}));
      nodes[i]->Cmd({"CLUSTER", "ADDSLOTSRANGE", ranges[i][0], ranges[i][1]});
      if (i > 0) nodes[0]->Cmd({"CLUSTER", "MEET", "127.0.0.1", std::to_string(nodes[i]->port())});
    }
    // Until every node sees the whole map.
    for (int tries = 0; tries < 500 && !AllOk(); ++tries) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    REQUIRE(AllOk());
  }
  bool AllOk() {
    for (auto& n : nodes) {
      std::string info = n->CmdOne({"CLUSTER", "INFO"});
      if (info.find("cluster_state:ok") == std::string::npos ||
          info.find("cluster_known_nodes:3") == std::string::npos) {
        return false;
      }
      // Three ranges of start, end, host, port, id (the empty metadata map flattens away).
      if (n->Cmd({"CLUSTER", "SLOTS"}).size() < 3 * 5) return false;
    }
    return true;
  }
  // Hands `slot` from node `from` to node `to` on every node (no keys to migrate).
  void MoveSlot(int slot, int from, int to) {
    std::string s = std::to_string(slot);
    nodes[to]->Cmd({"CLUSTER", "SETSLOT", s, "IMPORTING", ids[from]});
    nodes[from]->Cmd({"CLUSTER", "SETSLOT", s, "MIGRATING", ids[to]});
    for (auto& n : nodes) n->Cmd({"CLUSTER", "SETSLOT", s, "NODE", ids[to]});
  }
  std::vector<std::unique_ptr<RedisServer>> nodes;
  std::vector<std::string> ids;
};

class Router {
 public:
  explicit Router(int seed_port) {
    uv_loop_init(&loop_);
    RedisEndpoint seed;
    seed.host = "127.0.0.1";
    seed.port = seed_port;
    client_ = std::make_unique<ClusterClient>(&loop_, std::vector<RedisEndpoint>{seed},
                                              RedisClientOptions{});
    client_->Start();
    RunUntil([this] { return client_->ready(); });
  }
  ~Router() {
    bool stopped = false;
    client_->Stop([&stopped] { stopped = true; });
    RunUntil([&stopped] { return stopped; });
    uv_run(&loop_, UV_RUN_DEFAULT);
    client_.reset();
    uv_loop_close(&loop_);
  }
  Result<RedisValue> Call(const std::string& key, std::vector<std::string> argv,
                          uint64_t timeout_ms = 1000) {
    std::optional<Result<RedisValue>> out;
    client_->Command(KeySlot(key), std::move(argv), timeout_ms,
                     [&out](Result<RedisValue> r) { out = std::move(r); });
    RunUntil([&out] { return out.has_value(); });
    REQUIRE(out.has_value());
    return std::move(*out);
  }
  ClusterClient& client() { return *client_; }

  template <typename Done>
  void RunUntil(Done done, int max_ms = 10000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
    while (!done() && std::chrono::steady_clock::now() < end) uv_run(&loop_, UV_RUN_NOWAIT),
        std::this_thread::sleep_for(std::chrono::microseconds(200));
  }

 private:
  uv_loop_t loop_;
  std::unique_ptr<ClusterClient> client_;
};

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
