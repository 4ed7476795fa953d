// Redis Cluster routing on one event loop (issue 17). hiredis 0.14 has no cluster support, so
// this is a small router over RedisClient: it reads the slot map (CLUSTER SLOTS) from a seed,
// keeps one RedisClient per primary, sends each call to the primary of its slot, follows MOVED
// (the map is updated at once and re-read soon: slots usually move together) and ASK (ASKING
// then the call, once, on the named node), and re-reads the map when a primary's connection is
// lost. A call whose primary is not reachable waits for it (a failover in progress) until its
// deadline, so a caller gets its answer or its failure within the timeout it gave.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/redis_url.h"
#include "store/cluster_map.h"
#include "store/redis_client.h"

namespace policyd {

class ClusterClient {
 public:
  using Callback = RedisClient::Callback;
  static constexpr int kMaxRedirects = 5;

  // seeds: where to ask for the map; username, password and TLS-less options of every node
  // come from the first seed. loop must outlive the client.
  ClusterClient(uv_loop_t* loop, std::vector<RedisEndpoint> seeds, RedisClientOptions options);
  ~ClusterClient();  // REQUIRES: Stop() called and its done callback ran
  ClusterClient(const ClusterClient&) = delete;
  ClusterClient& operator=(const ClusterClient&) = delete;

  void Start();
  void Stop(std::function<void()> done);
  // The loop the client runs on (what works with it, e.g. an admin operation, times itself).
  uv_loop_t* loop() const { return loop_; }

  // Runs argv on the primary serving `slot` (KeySlot of a key it touches). The callback runs
  // exactly once, as RedisClient's does.
  void Command(uint16_t slot, std::vector<std::string> argv, uint64_t timeout_ms,
               Callback callback);

  // A map covering every slot is known and every primary in it is connected.
  bool ready() const { return ready_; }
  void SetReadyListener(std::function<void(bool ready)> listener) {
    ready_listener_ = std::move(listener);
  }

  // Runs after every map read (CLUSTER SLOTS answered), for what follows the set of
  // primaries (ClusterInvalidation); the map may or may not have changed.
  void SetMapListener(std::function<void()> listener) { map_listener_ = std::move(listener); }

  // The primaries of the current map, for what runs on each of them (FUNCTION LOAD, SCAN).
  std::vector<RedisClient*> Primaries();

  uint64_t redirects() const { return redirects_; }        // MOVED and ASK followed
  uint64_t map_reads() const { return map_reads_; }        // CLUSTER SLOTS answered

 private:
  struct Call;
  struct Node {
    ClusterNode address;
    std::unique_ptr<RedisClient> client;
  };

  RedisClient* ClientFor(const ClusterNode& address);  // connects on first use
  void Route(std::shared_ptr<Call> call);
  void OnReply(std::shared_ptr<Call> call, Result<RedisValue> reply);
  void Park(std::shared_ptr<Call> call);  // retried every kRetryMs until its deadline
  void RetryParked();
  void ReadMap();
  void OnMap(Result<RedisValue> reply, const std::string& asked_host);  // read from asked_host
  void ReadMapSoon();
  void UpdateReady();
  void OnHandlesClosed();

  uv_loop_t* loop_;
  std::vector<RedisEndpoint> seeds_;
  RedisClientOptions options_;
  std::vector<Node> nodes_;  // seeds and every node a map or a redirect named
  std::optional<ClusterMap> map_;
  std::vector<std::shared_ptr<Call>> parked_;
  bool map_read_in_flight_ = false;
  bool ready_ = false;
  bool stopping_ = false;
  uint64_t redirects_ = 0;
  uint64_t map_reads_ = 0;
  uv_timer_t retry_timer_;  // parked calls
  uv_timer_t map_timer_;    // the next map read
  int open_handles_ = 0;
  int clients_running_ = 0;
  std::function<void()> stop_done_;
  std::function<void(bool)> ready_listener_;
  std::function<void()> map_listener_;
};

}  // namespace policyd
