// A libuv timer that calls its owner back every period: the schedule of the loop's
// background services (store/event_relay.h, store/cluster_expiry_sweeper.h,
// store/block_expiry_sweeper.h), which otherwise each kept a uv_timer_t, a started flag, a
// stopped flag and a close callback of their own.
//
// The owner keeps the timer by value and must not move; Stop() closes the handle and its done
// callback runs once libuv has let go of it (at once when the timer never started). After
// Stop() the owner's replies still in flight see stopped() and drop what they carry.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>

namespace policyd {

class PeriodicTimer {
 public:
  // loop must outlive the timer; tick runs on the loop's thread.
  PeriodicTimer(uv_loop_t* loop, std::function<void()> tick)
      : loop_(loop), tick_(std::move(tick)) {}
  PeriodicTimer(const PeriodicTimer&) = delete;
  PeriodicTimer& operator=(const PeriodicTimer&) = delete;

  // First tick after first_ms, then every every_ms. No-op once stopped.
  void Start(uint64_t first_ms, uint64_t every_ms);
  // A reload's new period, from the next tick on.
  void SetPeriod(uint64_t every_ms);
  // Closes the handle; done runs once it is closed. Idempotent for the close, not for done.
  void Stop(std::function<void()> done);

  bool stopped() const { return stopped_; }

 private:
  uv_loop_t* loop_;
  std::function<void()> tick_;
  uv_timer_t timer_;
  bool started_ = false;
  bool stopped_ = false;
  std::function<void()> stop_done_;
};

}  // namespace policyd
