// The policy server on one libuv loop: listeners, connections by id, the Redis client and
// store, and the process signals (SIGHUP reload, SIGTERM/SIGINT drain and exit).
//
// Config is a shared_ptr<const Config> snapshot: each request keeps the one it started with,
// and a reload swaps the pointer, so a reload never changes a request halfway.
#pragma once

#include <uv.h>

#include <array>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/config.h"
#include "core/metrics.h"
#include "core/policy_request.h"
#include "core/verdict.h"
#include "server/listener.h"
#include "http/http_server.h"
#include "store/policy_store.h"
#include "store/report_store.h"
#include "store/redis_client.h"

namespace policyd {

class Connection;

class Server {
 public:
  Server(std::shared_ptr<const Config> config, std::string config_path);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens every listener (an error names the address) and starts connecting to Redis.
  Status Start();
  // Runs until SIGTERM/SIGINT has drained all connections; returns the exit code.
  int Run();

  // --- for Connection ---
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
  std::size_t connection_count() const { return connections_.size(); }

 private:
  void OnAccept(int fd, bool is_unix);
  bool CanAccept() const;
  void Reload();
  void BeginShutdown();
  void MaybeFinishShutdown();

  uv_loop_t loop_;
  std::shared_ptr<const Config> config_;
  std::string config_path_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unordered_map<uint64_t, Connection*> connections_;
  uint64_t next_connection_id_ = 1;
  std::unique_ptr<RedisClient> redis_;
  std::unique_ptr<PolicyStore> store_;
  std::unique_ptr<ReportStore> reports_;
  std::unique_ptr<HttpServer> http_;
  Metrics metrics_;
  uv_signal_t sighup_, sigterm_, sigint_;
  uv_timer_t shutdown_timer_;
  bool shutting_down_ = false;
  bool finished_ = false;
  int exit_code_ = 0;
  std::array<char, 65536> read_buffer_;
};

}  // namespace policyd
