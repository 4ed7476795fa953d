#include "net/periodic_timer.h"

namespace policyd {

void PeriodicTimer::Start(uint64_t first_ms, uint64_t every_ms) {
  if (started_ || stopped_) return;
  uv_timer_init(loop_, &timer_);
  timer_.data = this;
  started_ = true;
  uv_timer_start(
      &timer_, [](uv_timer_t* t) { static_cast<PeriodicTimer*>(t->data)->tick_(); }, first_ms,
      every_ms);
}

void PeriodicTimer::SetPeriod(uint64_t every_ms) {
  if (started_ && !stopped_ && uv_timer_get_repeat(&timer_) != every_ms) {
    uv_timer_set_repeat(&timer_, every_ms);
  }
}

void PeriodicTimer::Stop(std::function<void()> done) {
  bool was_running = started_ && !stopped_;
  stopped_ = true;
  if (!was_running) {
    if (done) done();
    return;
  }
  stop_done_ = std::move(done);
  uv_close(reinterpret_cast<uv_handle_t*>(&timer_), [](uv_handle_t* h) {
    auto* self = static_cast<PeriodicTimer*>(h->data);
    // A local: done may destroy the owner, and this timer with it.
    std::function<void()> done = std::move(self->stop_done_);
    if (done) done();
  });
}

}  // namespace policyd
