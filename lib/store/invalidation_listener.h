// Redis client-side caching for one event loop (issue 16): a connection of its own that
// hears every write to the read-mostly keys (users, accounts, domains, grants, blocks).
//
// hiredis 0.14 speaks RESP2 only, where invalidations arrive as pub/sub messages on
// `__redis__:invalidate`. So on connect this connection asks CLIENT ID, turns on
//   CLIENT TRACKING on REDIRECT <its own id> BCAST PREFIX <prefix>user: PREFIX ...
// and SUBSCRIBEs to that channel. BCAST announces every write to a key under the prefixes,
// whoever made it and whether or not anyone read the key, so no other connection needs
// tracking: the decision script's connection stays untouched (and cheap). Tracking lives and
// dies with this connection, so a lost connection can never leave a cache silently stale:
// the listener reports itself not ready at once, and the owner empties its cache.
//
// on_change runs on every invalidation message with its keys, and with nullptr for a
// FLUSHALL/FLUSHDB (null message) and on every change of ready(): then the owner must
// forget everything.
#pragma once

#include <uv.h>

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "core/redis_url.h"
#include "store/redis_client.h"

struct redisAsyncContext;

namespace policyd {

class InvalidationListener {
 public:
  using Keys = std::vector<std::string_view>;  // valid during the callback only

  // prefixes: full key prefixes to track ("pd:user:", ...). loop must outlive the listener.
  InvalidationListener(uv_loop_t* loop, std::vector<std::string> prefixes,
                       RedisClientOptions options,
                       std::function<void(const Keys* keys)> on_change);
  ~InvalidationListener();  // REQUIRES: Stop() called and its done callback ran
  InvalidationListener(const InvalidationListener&) = delete;
  InvalidationListener& operator=(const InvalidationListener&) = delete;

  // Listens to the Redis at endpoint (the decision connection's, so that after a Sentinel
  // failover both talk to the same primary); a different endpoint than the current one
  // drops the current connection first. Idempotent for the same endpoint.
  void Follow(const RedisEndpoint& endpoint);
  // Closes the connection and timers; done runs once everything is closed.
  void Stop(std::function<void()> done);

  // Subscribed with tracking on: every later write under the prefixes will be heard.
  bool ready() const { return state_ == State::kReady; }
  const RedisEndpoint& endpoint() const { return endpoint_; }
  uint64_t invalidations() const { return invalidations_; }

 private:
  enum class State { kIdle, kConnecting, kReady, kStopped };

  void Connect();
  void Drop(const std::string& reason);  // frees the context, reconnects after a backoff
  void SetState(State state);
  void OnClientId(void* reply);
  void OnTrackingReply(void* reply);
  void OnSubscription(void* reply);

  static void OnConnected(const redisAsyncContext* ac, int status);
  static void OnDisconnected(const redisAsyncContext* ac, int status);

  uv_loop_t* loop_;
  std::vector<std::string> prefixes_;
  RedisClientOptions options_;
  std::function<void(const Keys*)> on_change_;
  RedisEndpoint endpoint_;
  bool have_endpoint_ = false;
  State state_ = State::kIdle;
  bool tracking_on_ = false;
  redisAsyncContext* ac_ = nullptr;
  uint64_t backoff_ms_ = 0;
  uint64_t invalidations_ = 0;
  uv_timer_t timer_;  // reconnect backoff, and the connect/handshake deadline
  int open_handles_ = 0;
  std::function<void()> stop_done_;
};

}  // namespace policyd
