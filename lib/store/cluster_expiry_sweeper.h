// block.expired on a Redis Cluster (issue 17; store/block_expiry_sweeper.h for one Redis). A
// block written in a slot records its expiry in that slot's index, PREFIXblock_expiries:{TAG}
// (TAG: the subject's slot-tag, _common.lua note_block_expiry). Every interval this sweeper
// finds the indexes by SCAN MATCH PREFIXblock_expiries:{* TYPE zset on every primary
// (store/cluster_scan.h) and runs block_expire_sweep.lua in each index's slot: the script
// removes each due entry and emits its block.expired into the slot's outbox in one call, so
// however many instances sweep, each expiry is emitted once; the event relay then moves it
// to PREFIXevents (told at once through Notify). The unblock itself never waits for this:
// the block key ends by its own PEXPIREAT.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <string>

#include "net/periodic_timer.h"
#include "store/cluster_client.h"
#include "store/cluster_script_runner.h"
#include "store/event_relay.h"

namespace policyd {

class ClusterExpirySweeper {
 public:
  struct Options {
    std::string prefix = "pd:";   // [redis] key_prefix
    uint64_t interval_ms = 1000;  // [webhooks] poll_interval
    uint64_t timeout_ms = 1000;   // per call
    // The time a sweep judges expiries by, ms; 0: Redis TIME. Tests inject a clock.
    std::function<uint64_t()> now = [] { return uint64_t{0}; };
  };

  // loop, cluster and runner must outlive the sweeper, and the sweeper the cluster client's
  // Stop; relay (may be null) is told of every outbox a sweep wrote.
  ClusterExpirySweeper(uv_loop_t* loop, ClusterClient* cluster, ClusterScriptRunner* runner,
                       EventRelay* relay, Options options);
  ClusterExpirySweeper(const ClusterExpirySweeper&) = delete;
  ClusterExpirySweeper& operator=(const ClusterExpirySweeper&) = delete;

  void Start();                           // a sweep every interval_ms
  void Stop(std::function<void()> done);  // done runs once the timer is closed

  // One sweep of every slot's index now (unless one is in flight).
  void SweepNow();

  bool idle() const { return !scanning_ && calls_ == 0; }
  uint64_t expired() const { return expired_; }  // block.expired events emitted
  uint64_t failures() const { return failures_; }

 private:
  ClusterClient* cluster_;
  ClusterScriptRunner* runner_;
  EventRelay* relay_;
  Options options_;
  PeriodicTimer timer_;
  bool scanning_ = false;
  int calls_ = 0;  // block_expire_sweep calls in flight
  uint64_t expired_ = 0;
  uint64_t failures_ = 0;
};

}  // namespace policyd
