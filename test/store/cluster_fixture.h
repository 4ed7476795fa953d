// A real three-primary Redis Cluster for the store tests (issue 17): cluster-enabled
// redis-servers met by the test, slots split in three, optionally with one replica per primary
// and a short node timeout so that a killed primary's replica takes over in about 2 s; and a
// ClusterClient on a private libuv loop whose calls run to completion synchronously.
#pragma once

#include <doctest/doctest.h>

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "core/cluster_slot.h"
#include "redis_server.h"
#include "store/cluster_client.h"

namespace policyd::test {

class Cluster {
 public:
  // nodes[0..2] are the primaries (slots 0-5460, 5461-10922, 10923-16383); with replicas,
  // nodes[3 + i] replicates nodes[i].
  explicit Cluster(bool replicas = false) {
    int count = replicas ? 6 : 3;
    for (int i = 0; i < count; ++i) {
      nodes.push_back(std::make_unique<RedisServer>(true, replicas ? 1000 : 0));
      ids.push_back(nodes[i]->CmdOne({"CLUSTER", "MYID"}));
    }
    const char* ranges[3][2] = {{"0", "5460"}, {"5461", "10922"}, {"10923", "16383"}};
    for (int i = 0; i < 3; ++i) {
      nodes[i]->Cmd({"CLUSTER", "ADDSLOTSRANGE", ranges[i][0], ranges[i][1]});
    }
    for (int i = 1; i < count; ++i) {
      nodes[0]->Cmd({"CLUSTER", "MEET", "127.0.0.1", std::to_string(nodes[i]->port())});
    }
    for (int i = 3; i < count; ++i) {
      // A replica can follow a primary once it has heard of it.
      Await([&] {
        return nodes[i]->CmdOne({"CLUSTER", "NODES"}).find(ids[i - 3]) != std::string::npos;
      });
      for (int tries = 0; tries < 250; ++tries) {
        if (nodes[i]->CmdOne({"CLUSTER", "REPLICATE", ids[i - 3]}) == "OK") break;
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
      }
    }
    Await([this] { return AllOk(); });
    REQUIRE(AllOk());
  }

  template <typename Pred>
  static void Await(Pred pred, int max_ms = 10000) {
    for (int waited = 0; waited < max_ms && !pred(); waited += 20) {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }

  bool AllOk() {
    std::string known = "cluster_known_nodes:" + std::to_string(nodes.size());
    for (auto& n : nodes) {
      std::string info = n->CmdOne({"CLUSTER", "INFO"});
      if (info.find("cluster_state:ok") == std::string::npos ||
          info.find(known) == std::string::npos) {
        return false;
      }
      // Three ranges of start, end, host, port, id (the empty metadata map flattens away),
      // and a replica's host, port, id for each when there are replicas.
      size_t per_range = nodes.size() == 3 ? 5 : 8;
      if (n->Cmd({"CLUSTER", "SLOTS"}).size() < 3 * per_range) return false;
    }
    for (size_t i = 3; i < nodes.size(); ++i) {
      if (nodes[i]->CmdOne({"INFO", "replication"}).find("master_link_status:up") ==
          std::string::npos) {
        return false;
      }
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

  // kill -9 of primary i; returns once its replica (nodes[3 + i]) is a primary and every live
  // node sees the cluster as ok.
  void KillPrimaryAndAwaitPromotion(int i) {
    nodes[i]->Kill();
    auto promoted = [&] {
      if (nodes[3 + i]->Cmd({"ROLE"}).front() != "master") return false;
      for (size_t n = 0; n < nodes.size(); ++n) {
        if (static_cast<int>(n) == i) continue;
        if (nodes[n]->CmdOne({"CLUSTER", "INFO"}).find("cluster_state:ok") == std::string::npos) {
          return false;
        }
      }
      return true;
    };
    Await(promoted, 20000);
    REQUIRE(promoted());
  }

  std::vector<std::unique_ptr<RedisServer>> nodes;
  std::vector<std::string> ids;
};

// The primary (0, 1, 2) whose range holds a key with hash tag `tag`.
inline int OwnerOf(const std::string& tag) {
  int slot = KeySlot(tag);
  return slot <= 5460 ? 0 : slot <= 10922 ? 1 : 2;
}

// The first tag base + N (N = 0, 1, ...) whose slot is on `primary`, skipping `skip` of them.
inline std::string TagOn(int primary, const std::string& base, int skip = 0) {
  for (int n = 0;; ++n) {
    std::string tag = base + std::to_string(n);
    if (OwnerOf(tag) == primary && skip-- == 0) return tag;
  }
}

// A ClusterClient seeded with one node, on a private loop run by each call until it ends.
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
  uv_loop_t* loop() { return &loop_; }

  template <typename Done>
  void RunUntil(Done done, int max_ms = 10000) {
    auto end = std::chrono::steady_clock::now() + std::chrono::milliseconds(max_ms);
    while (!done() && std::chrono::steady_clock::now() < end)
      uv_run(&loop_, UV_RUN_NOWAIT), std::this_thread::sleep_for(std::chrono::microseconds(200));
  }

 private:
  uv_loop_t loop_;
  std::unique_ptr<ClusterClient> client_;
};

}  // namespace policyd::test
