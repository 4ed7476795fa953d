// One event loop of the process ([server] threads of them run in a Supervisor), on its own
// thread: the loop's shared context (Redis client, stores, counters, config snapshot) and the
// two faces attached to it, the policy Server and, on the primary loop only, the HttpServer
// and the events stream's services: webhook delivery and the block-expiry sweep, and on a
// Redis Cluster the event relay that moves the slots' outboxes to the events stream.
//
// Reload and shutdown requests arrive from the supervisor's thread through a uv_async_t;
// everything else runs on this loop's thread only. Shutdown drains the policy connections
// first, then stops HTTP, then webhook delivery (deliveries in flight stay pending in Redis),
// then Redis, so no answer is cut off by a store going away.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <mutex>

#include "core/config.h"
#include "core/metrics.h"
#include "core/result.h"
#include "http/http_server.h"
#include "server/server.h"
#include "store/block_expiry_sweeper.h"
#include "store/cluster_expiry_sweeper.h"
#include "store/event_relay.h"
#include "store/loop_context.h"
#include "store/webhook_deliverer.h"

namespace policyd {

class ServingLoop {
 public:
  ServingLoop(std::shared_ptr<const Config> config, SharedState* shared, bool primary);
  ~ServingLoop();
  ServingLoop(const ServingLoop&) = delete;
  ServingLoop& operator=(const ServingLoop&) = delete;

  // Opens the listeners of both faces (an error names the address) and starts connecting to
  // Redis. Called before Run(), on any thread.
  Status Start();
  // Runs the loop until a requested shutdown has drained every connection.
  void Run();

  // --- thread-safe, from the supervisor ---
  void RequestReload(std::shared_ptr<const Config> config);
  void RequestShutdown();
  Metrics MetricsSnapshot() { return context_.MetricsSnapshot(); }
  bool redis_ready() const { return context_.redis_ready(); }

 private:
  void OnControl();           // a reload or shutdown request arrived
  void Stop();                // after the policy connections have drained
  void StartEventServices();  // primary loop only
  // Stops them one after the other (deliveries in flight stay pending in Redis), then done.
  void StopEventServices(std::function<void()> done);

  uv_loop_t loop_;
  bool primary_;
  LoopContext context_;
  Server server_;
  std::unique_ptr<HttpServer> http_;  // primary loop only
  // Primary loop only: webhook delivery and block.expired events (issue 20); on one Redis
  // the block-expiry sweep, on a cluster the event relay and the per-slot sweep (issue 17).
  std::unique_ptr<WebhookDeliverer> webhooks_;
  std::unique_ptr<BlockExpirySweeper> expiries_;
  std::unique_ptr<EventRelay> relay_;
  std::unique_ptr<ClusterExpirySweeper> cluster_expiries_;
  uv_async_t control_;
  std::mutex control_mutex_;
  std::shared_ptr<const Config> pending_config_;  // guarded by control_mutex_
  bool pending_shutdown_ = false;                 // guarded by control_mutex_
};

}  // namespace policyd
