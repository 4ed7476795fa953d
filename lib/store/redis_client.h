// An asynchronous Redis connection on a libuv loop (hiredis + its libuv adapter).
//
// Lifecycle: Start() connects; on connect it sends AUTH (if configured), SELECT and PING, and
// only a PONG makes the client ready. A lost or stalled connection (a command reached its
// deadline with no reply from Redis since it was sent: Redis is paused or wedged) is dropped
// and re-opened with exponential backoff between reconnect_min and reconnect_max.
//
// Every command has a deadline. Its callback runs exactly once: with the reply (which may be
// a Redis error value), kUnavailable when not connected or the connection is lost, or
// kTimeout at the deadline. While not ready, Command() fails at once (the callback runs
// before Command returns), so a request never waits for a connection that may not come.
#pragma once

#include <uv.h>

#include <cstdint>
#include <deque>
#include <functional>
#include <string>
#include <vector>

#include "core/redis_url.h"
#include "core/result.h"
#include "store/redis_value.h"
#include "store/sentinel_resolver.h"

struct redisAsyncContext;

namespace policyd {

struct RedisClientOptions {
  uint64_t connect_timeout_ms = 1000;
  uint64_t reconnect_min_ms = 100;
  uint64_t reconnect_max_ms = 5000;
};

class RedisClient {
 public:
  using Callback = std::function<void(Result<RedisValue>)>;

  // loop must outlive the client. Nothing happens until Start().
  RedisClient(uv_loop_t* loop, RedisEndpoint endpoint, RedisClientOptions options);
  ~RedisClient();  // REQUIRES: Stop() called and its done callback ran
  RedisClient(const RedisClient&) = delete;
  RedisClient& operator=(const RedisClient&) = delete;

  void Start();
  // Fails pending commands (kUnavailable), closes handles, never reconnects; done runs once
  // all libuv handles are closed.
  void Stop(std::function<void()> done);

  // argv is formatted into hiredis's output buffer before this returns (not kept).
  void Command(const std::vector<std::string>& argv, uint64_t timeout_ms, Callback callback);

  bool ready() const { return state_ == State::kReady; }
  // Called (once per change) when the client becomes ready or stops being ready.
  void SetReadyListener(std::function<void(bool ready)> listener) {
    ready_listener_ = std::move(listener);
  }
  // Sentinel mode: every (re)connect first asks the resolver for the primary, the handshake
  // checks ROLE is master, and a -READONLY reply (a demoted primary) drops the connection so
  // the next connect asks again. Call before Start().
  void UseSentinel(std::unique_ptr<SentinelResolver> resolver) { resolver_ = std::move(resolver); }
  const RedisEndpoint& endpoint() const { return endpoint_; }

 private:
  enum class State { kDisconnected, kConnecting, kReady, kStopped };
  struct Pending;

  void Connect();
  void ConnectNow();
  void SendHandshake();
  void OnHandshakeDone(Result<RedisValue> reply);
  void Drop(const std::string& reason);  // frees the context; schedules a reconnect
  // Drop() from a timer, out of hiredis's callbacks; reconnect_at_once skips the backoff.
  void DropSoon(std::string reason, bool reconnect_at_once);
  void OnHandlesClosed();  // every timer (and the resolver) closed: Stop()'s done runs
  void ScheduleReconnect();
  void SetState(State state);
  void Send(const std::vector<std::string>& argv, uint64_t timeout_ms, Callback callback);
  void ArmDeadlineTimer();
  void OnDeadline();
  void OnReplyFor(Pending* pending, Result<RedisValue> reply);

  static void OnConnected(const redisAsyncContext* ac, int status);
  static void OnDisconnected(const redisAsyncContext* ac, int status);
  static void OnReply(redisAsyncContext* ac, void* reply, void* privdata);

  uv_loop_t* loop_;
  RedisEndpoint endpoint_;
  RedisClientOptions options_;
  State state_ = State::kDisconnected;
  redisAsyncContext* ac_ = nullptr;
  std::deque<Pending*> pending_;  // in send order; Redis replies in the same order
  uint64_t last_reply_ms_ = 0;    // loop time of the last reply on the current connection
  uint64_t backoff_ms_ = 0;
  uint64_t armed_deadline_ms_ = 0;  // when deadline_timer_ fires, if active
  uv_timer_t deadline_timer_;     // the earliest pending deadline
  uv_timer_t reconnect_timer_;    // backoff, and the connect/handshake timeout
  uv_timer_t drop_timer_;         // defers Drop() out of hiredis callbacks
  std::string drop_reason_;
  bool drop_reconnects_at_once_ = false;
  int open_handles_ = 0;
  std::function<void()> stop_done_;
  std::function<void(bool)> ready_listener_;
  std::unique_ptr<SentinelResolver> resolver_;
};

}  // namespace policyd
