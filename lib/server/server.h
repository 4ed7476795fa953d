// One event loop of the policy server ([server] threads of them run in a Supervisor): its
// listeners, connections by id, its own Redis client and store, and, on the primary loop,
// the HTTP side. TCP listeners of several loops share their port with SO_REUSEPORT, so the
// kernel spreads connections; unix sockets and HTTP live on the primary loop only.
//
// Config is a shared_ptr<const Config> snapshot: each request keeps the one it started with,
// and a reload swaps the pointer (on this loop's thread), so a reload never changes a request
// halfway. Reload and shutdown requests arrive from the supervisor's thread through a
// uv_async_t; everything else runs on this loop's thread only.
#pragma once

#include <uv.h>

#include <array>
#include <atomic>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/config.h"
#include "core/metrics.h"
#include "core/policy_request.h"
#include "core/verdict.h"
#include "http/http_server.h"
#include "net/listener.h"
#include "store/policy_store.h"
#include "store/redis_client.h"
#include "store/report_store.h"

namespace policyd {

class Connection;

// What the loops of one process share: the connection count behind max_connections, and a
// way for the primary loop's /metrics to see every loop's counters.
struct SharedState {
  int loops = 1;  // how many Servers run; more than one share TCP ports with SO_REUSEPORT
  std::atomic<std::size_t> connections{0};
  std::function<Metrics()> merged_metrics;
  std::function<MetricsGauges()> gauges;
};

class Server {
 public:
  Server(std::shared_ptr<const Config> config, SharedState* shared, bool primary);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the listeners (an error names the address) and starts connecting to Redis. Called
  // before Run(), on any thread.
  Status Start();
  // Runs the loop until a requested shutdown has drained every connection.
  void Run();

  // --- thread-safe, from the supervisor ---
  void RequestReload(std::shared_ptr<const Config> config);
  void RequestShutdown();
  Metrics MetricsSnapshot();
  bool redis_ready() const { return redis_ready_; }

  // --- for Connection, on this loop's thread ---
  uv_loop_t* loop() { return &loop_; }
  std::shared_ptr<const Config> config() const { return config_; }
  std::array<char, 65536>& read_buffer() { return read_buffer_; }
  // Asks the store; the answer goes to Find(conn_id)->OnDecided(seq, ...) if still there.
  void Decide(const std::shared_ptr<const Config>& config, const PolicyRequest& request,
              uint64_t conn_id, uint64_t seq);
  void RecordDecision(const PolicyRequest& request, const Verdict& verdict, uint64_t latency_us,
                      bool failed);
  void OnConnectionClosed(Connection* connection);  // deletes it
  Connection* Find(uint64_t id);

 private:
  void OnAccept(int fd, bool is_unix);
  bool CanAccept() const;
  void OnControl();  // a reload or shutdown request arrived
  void BeginShutdown();
  void MaybeFinishShutdown();

  uv_loop_t loop_;
  std::shared_ptr<const Config> config_;
  SharedState* shared_;
  bool primary_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unordered_map<uint64_t, Connection*> connections_;
  uint64_t next_connection_id_ = 1;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<PolicyStore> store_;
  std::unique_ptr<ReportStore> reports_;
  std::unique_ptr<HttpServer> http_;
  std::mutex metrics_mutex_;  // other loops' /metrics read these counters
  Metrics metrics_;
  std::atomic<bool> redis_ready_{false};
  uv_async_t control_;
  std::mutex control_mutex_;
  std::shared_ptr<const Config> pending_config_;  // guarded by control_mutex_
  bool pending_shutdown_ = false;                 // guarded by control_mutex_
  uv_timer_t shutdown_timer_;
  bool shutting_down_ = false;
  bool finished_ = false;
  std::array<char, 65536> read_buffer_;
};

}  // namespace policyd
