// Emits block.expired for blocks whose time has passed (issue 20). A block ends by its key's
// TTL, which tells nobody, so create_block also records each expiry in PREFIXblock_expiries
// and this sweeper runs block_expire_sweep.lua every [webhooks] poll_interval on the primary
// loop of every instance: the script removes each due entry and emits its event in one call,
// so however many instances sweep, each expiry is emitted exactly once. One Redis only; a
// Redis Cluster has one index per slot (store/cluster_expiry_sweeper.h).
#pragma once

#include <uv.h>

#include <functional>

#include "net/periodic_timer.h"
#include "store/loop_context.h"

namespace policyd {

class BlockExpirySweeper {
 public:
  explicit BlockExpirySweeper(LoopContext* context)
      : context_(context), timer_(context->loop(), [this] { Sweep(); }) {}
  BlockExpirySweeper(const BlockExpirySweeper&) = delete;
  BlockExpirySweeper& operator=(const BlockExpirySweeper&) = delete;

  void Start();
  void Stop(std::function<void()> done);  // done runs once the timer is closed

 private:
  void Sweep();

  LoopContext* context_;
  PeriodicTimer timer_;
  bool sweeping_ = false;  // a sweep is waiting for Redis
};

}  // namespace policyd
