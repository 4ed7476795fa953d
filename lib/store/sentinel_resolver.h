// Finds the current Redis primary through Redis Sentinel: asks each configured sentinel in
// turn "SENTINEL get-master-addr-by-name NAME" and answers with the first address given.
// Each attempt is a short-lived hiredis connection with its own deadline, so a dead sentinel
// costs at most timeout_ms before the next one is asked.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "core/redis_url.h"
#include "core/result.h"

namespace policyd {

class SentinelResolver {
 public:
  using Callback = std::function<void(Result<RedisEndpoint>)>;

  // base supplies password/db/username for the primary; host and port come from Sentinel.
  SentinelResolver(uv_loop_t* loop, std::vector<std::string> sentinels, std::string master_name,
                   RedisEndpoint base, uint64_t timeout_ms);
  ~SentinelResolver();  // REQUIRES: Close() done
  SentinelResolver(const SentinelResolver&) = delete;
  SentinelResolver& operator=(const SentinelResolver&) = delete;

  // One resolution at a time; a second call while one runs is an error (kUnavailable).
  void Resolve(Callback callback);
  void Close(std::function<void()> done);

 private:
  struct Attempt;
  void TryNext();
  void Finish(Result<RedisEndpoint> result);

  uv_loop_t* loop_;
  std::vector<std::string> sentinels_;
  std::string master_name_;
  RedisEndpoint base_;
  uint64_t timeout_ms_;
  std::size_t next_ = 0;
  std::size_t tried_ = 0;
  std::string last_error_;
  Callback callback_;
  Attempt* attempt_ = nullptr;
  uv_timer_t timer_;
  bool closing_ = false;
  std::function<void()> close_done_;
};

}  // namespace policyd
