// The policy protocol face of one event loop: its listeners and its connections by id. It is
// attached to the loop's LoopContext (loop, config snapshot, Redis store, counters), which the
// Supervisor's ServingLoop builds and shares with the HTTP face; the two never see each other.
// TCP listeners of several loops share their port with SO_REUSEPORT, so the kernel spreads
// connections; unix sockets live on the primary loop only.
//
// Config is a shared_ptr<const Config> snapshot in the context: each request keeps the one it
// started with, and a reload swaps the pointer (on this loop's thread), so a reload never
// changes a request halfway. Everything here runs on the loop's thread.
#pragma once

#include <uv.h>

#include <array>
#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "core/config.h"
#include "core/decide_args.h"
#include "core/metrics.h"
#include "core/policy_request.h"
#include "core/verdict.h"
#include "net/listener.h"
#include "store/loop_context.h"

namespace policyd {

class Connection;

class Server {
 public:
  Server(LoopContext* context, bool primary);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Opens the listeners (an error names the address). Called before the loop runs.
  Status Start();
  // Stops accepting and drains every connection (closing what is left after [server]
  // shutdown_timeout); done runs once the last one is gone.
  void Shutdown(std::function<void()> done);

  // --- for Connection, on this loop's thread ---
  uv_loop_t* loop() { return context_->loop(); }
  std::shared_ptr<const Config> config() const { return context_->config(); }
  std::array<char, 65536>& read_buffer() { return read_buffer_; }
  // Asks the store; the answer goes to Find(conn_id)->OnDecided(seq, ...) if still there.
  // options: what the connection adds (the transaction's recipients at END-OF-MESSAGE).
  void Decide(const std::shared_ptr<const Config>& config, const PolicyRequest& request,
              uint64_t conn_id, uint64_t seq, DecideOptions options = {});
  void RecordDecision(const PolicyRequest& request, const Verdict& verdict, uint64_t latency_us,
                      bool failed);
  void OnConnectionClosed(Connection* connection);  // deletes it
  Connection* Find(uint64_t id);

 private:
  void OnAccept(int fd, bool is_unix);
  bool CanAccept() const;
  void MaybeFinishShutdown();

  LoopContext* context_;
  SharedState* shared_;
  bool primary_;
  std::vector<std::unique_ptr<Listener>> listeners_;
  std::unordered_map<uint64_t, Connection*> connections_;
  uint64_t next_connection_id_ = 1;
  uv_timer_t shutdown_timer_;
  bool shutting_down_ = false;
  bool finished_ = false;
  std::function<void()> shutdown_done_;
  std::array<char, 65536> read_buffer_;
};

}  // namespace policyd
