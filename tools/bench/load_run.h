// One policyd-bench run on a libuv loop: N connections (BenchConnection), each with its own
// request stream (Workload), driven closed loop (the next request as soon as the reply
// arrives) or open loop (each connection at rate/N with its own phase, sends scheduled on a
// timerfd so a send is late by microseconds, not by libuv's millisecond timers).
//
// Phases: connect every connection; run (warm-up, then measure for --duration or
// --requests); drain (no new sends; wait for the replies in flight, at most --timeout);
// done. With --idle: connect, one request each, print "ready" on stderr, hold --duration.
// A connection that fails is counted as an error and reconnected 100 ms later.
#pragma once

#include <uv.h>

#include <cstdint>
#include <memory>
#include <queue>
#include <string>
#include <vector>

#include "bench/bench_connection.h"
#include "bench/bench_result.h"
#include "bench/workload.h"
#include "core/listen_address.h"
#include "core/result.h"

namespace policyd::bench {

class LoadRun : public ConnectionOwner {
 public:
  explicit LoadRun(BenchOptions options);
  ~LoadRun() override;
  LoadRun(const LoadRun&) = delete;
  LoadRun& operator=(const LoadRun&) = delete;

  // Runs to completion. Errors only for set-up failures (bad target, no timerfd); a server
  // that refuses or fails requests yields a result with errors counted.
  Result<BenchResult> Run();

 private:
  enum class Phase { kConnecting, kRunning, kDraining, kHolding, kDone };
  struct Slot {
    std::unique_ptr<BenchConnection> conn;
    std::unique_ptr<Workload> workload;
    uint64_t sched_ns = 0;     // open loop: when the request in flight (or next) was due
    uint64_t sent_ns = 0;      // when the request in flight was written
    uint64_t retry_at_ns = 0;  // kIdle after a failure: reconnect from then on
    uint64_t user = 0;         // the request in flight
    bool eom = false;
    bool awaiting = false;     // a request is in flight
    bool tried = false;        // the first connect attempt finished (either way)
  };

  void OnConnected(BenchConnection* c) override;
  void OnReply(BenchConnection* c, std::string_view label) override;
  void OnClosed(BenchConnection* c, const char* reason) override;
  uv_buf_t ReadBuffer() override;

  void MaybeStart();
  void SendOn(Slot& s, uint64_t sched_ns);
  void Continue(Slot& s, uint64_t now);  // the connection is ready: send now or schedule
  void Schedule(uint64_t at_ns, uint32_t slot);
  void ArmScheduler();
  void OnSchedulerFired();
  void OnTick();
  void EndMeasuring();
  void MaybeFinish();
  void SendIdleRequests();  // --idle: the next connections' one request, a few at a time
  void MaybeHold();         // --idle: every connection has had its one reply
  void Finish();
  bool Measured(uint64_t ref_ns) const { return ref_ns >= warm_ns_; }

  BenchOptions options_;
  WorkloadOptions workload_options_;
  ListenAddress target_;
  uv_loop_t loop_;
  uv_timer_t tick_;
  uv_timer_t end_timer_;
  uv_poll_t sched_poll_;
  int timer_fd_ = -1;
  uint64_t armed_ns_ = 0;  // 0: scheduler disarmed
  std::priority_queue<std::pair<uint64_t, uint32_t>, std::vector<std::pair<uint64_t, uint32_t>>,
                      std::greater<>>
      due_;
  std::vector<Slot> slots_;
  std::vector<char> read_buffer_;
  std::string scratch_;  // the request being formatted
  Phase phase_ = Phase::kConnecting;
  int tried_ = 0;
  uint64_t start_ns_ = 0, warm_ns_ = 0, run_start_ns_ = 0, last_reply_ns_ = 0;
  uint64_t interval_ns_ = 0;     // open loop: per-connection interval, connections / rate
  uint64_t in_flight_ = 0;
  uint64_t measured_sent_ = 0;
  std::size_t idle_next_ = 0;  // --idle: next slot to send its one request
  std::vector<uint64_t> active_users_;  // bitmap of users with an END-OF-MESSAGE
  BenchResult result_;
};

}  // namespace policyd::bench
