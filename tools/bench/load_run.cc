#include "bench/load_run.h"

#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <cstdio>
#include <ctime>

namespace policyd::bench {
namespace {

constexpr uint64_t kTickMs = 50;               // timeouts and reconnects are checked this often
constexpr uint64_t kReconnectNs = 100'000'000;  // a failed connection retries after 100 ms
constexpr std::size_t kReadBufferBytes = 64 * 1024;
// --idle: the one request per connection goes out at most this many at a time, so that
// 10,000 connections do not become 10,000 simultaneous decisions (and server timeouts).
constexpr uint64_t kIdleInFlight = 64;

double Seconds(const timeval& tv) { return tv.tv_sec + tv.tv_usec / 1e6; }

}  // namespace

LoadRun::LoadRun(BenchOptions options) : options_(std::move(options)) {
  workload_options_.users = options_.users;
  workload_options_.eom_ratio = options_.eom_ratio;
  workload_options_.sender_domain = options_.sender_domain;
  workload_options_.seed = options_.seed;
  // Postfix's "instance" carries the time; so does ours, so that runs against the same Redis
  // never replay an earlier run's message identities (they would be answered as retries).
  timespec ts{};
  clock_gettime(CLOCK_REALTIME, &ts);
  workload_options_.run_id = static_cast<uint64_t>(ts.tv_sec) * 1000000 + ts.tv_nsec / 1000;
  result_.options = options_;
}

LoadRun::~LoadRun() {
  if (timer_fd_ >= 0) ::close(timer_fd_);
}

uv_buf_t LoadRun::ReadBuffer() {
  return uv_buf_init(read_buffer_.data(), static_cast<unsigned>(read_buffer_.size()));
}

Result<BenchResult> LoadRun::Run() {
  std::string target = options_.target;
  if (target.starts_with("localhost:")) target = "127.0.0.1" + target.substr(9);  // as parsed
  Result<ListenAddress> addr = ParseListenAddress(target);
  if (!addr) return Invalid("--target: " + addr.error().message);
  target_ = *addr;
  // The open-loop schedule wants microseconds: the kernel's default timer slack is 50 us.
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  timer_fd_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (timer_fd_ < 0) return Error{ErrorCode::kInternal, "timerfd_create failed"};
  read_buffer_.resize(kReadBufferBytes);
  if (options_.users <= (uint64_t{1} << 32)) active_users_.assign((options_.users + 63) / 64, 0);

  uv_loop_init(&loop_);
  uv_timer_init(&loop_, &tick_);
  tick_.data = this;
  uv_timer_start(&tick_, [](uv_timer_t* t) { static_cast<LoadRun*>(t->data)->OnTick(); }, kTickMs,
                 kTickMs);
  uv_timer_init(&loop_, &end_timer_);
  end_timer_.data = this;
  uv_poll_init(&loop_, &sched_poll_, timer_fd_);
  sched_poll_.data = this;
  uv_poll_start(&sched_poll_, UV_READABLE, [](uv_poll_t* p, int, int) {
    static_cast<LoadRun*>(p->data)->OnSchedulerFired();
  });

  rusage ru0{};
  getrusage(RUSAGE_SELF, &ru0);
  start_ns_ = uv_hrtime();
  slots_.resize(static_cast<std::size_t>(options_.connections));
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    slots_[i].conn = std::make_unique<BenchConnection>(&loop_, &target_, this, i);
    slots_[i].workload = std::make_unique<Workload>(i, workload_options_);
    slots_[i].conn->Connect();
  }
  uv_run(&loop_, UV_RUN_DEFAULT);
  uv_loop_close(&loop_);

  rusage ru1{};
  getrusage(RUSAGE_SELF, &ru1);
  result_.wall_s = (uv_hrtime() - start_ns_) / 1e9;
  result_.cpu_user_s = Seconds(ru1.ru_utime) - Seconds(ru0.ru_utime);
  result_.cpu_sys_s = Seconds(ru1.ru_stime) - Seconds(ru0.ru_stime);
  for (uint64_t word : active_users_) result_.users_active += __builtin_popcountll(word);
  return result_;
}

void LoadRun::OnConnected(BenchConnection* c) {
  Slot& s = slots_[c->index()];
  if (!s.tried) {
    s.tried = true;
    ++tried_;
    ++result_.connected;
    return MaybeStart();
  }
  // A reconnect: carry on from now (an open-loop schedule restarts at once).
  if (phase_ == Phase::kRunning && !options_.idle) {
    uint64_t now = uv_hrtime();
    s.sched_ns = now - interval_ns_;
    Continue(s, now);
  }
}

void LoadRun::MaybeStart() {
  if (phase_ != Phase::kConnecting || tried_ < options_.connections) return;
  uint64_t now = uv_hrtime();
  run_start_ns_ = now;
  phase_ = Phase::kRunning;
  if (result_.connected == 0) return Finish();
  if (options_.idle) {
    warm_ns_ = now;  // the one request per connection is the measurement
    return SendIdleRequests();
  }
  warm_ns_ = now + static_cast<uint64_t>(options_.warmup_s * 1e9);
  if (options_.requests == 0) {
    uv_timer_start(&end_timer_,
                   [](uv_timer_t* t) { static_cast<LoadRun*>(t->data)->EndMeasuring(); },
                   static_cast<uint64_t>((options_.warmup_s + options_.duration_s) * 1000), 0);
  }
  double per_conn_s = options_.rate > 0 ? options_.connections / options_.rate : 0;
  interval_ns_ = static_cast<uint64_t>(per_conn_s * 1e9);
  for (std::size_t i = 0; i < slots_.size(); ++i) {
    Slot& s = slots_[i];
    if (s.conn->state() != BenchConnection::State::kReady) continue;
    if (options_.rate > 0) {
      // Phases spread evenly, so the total is a steady stream at `rate`.
      Schedule(now + static_cast<uint64_t>(i * 1e9 / options_.rate), static_cast<uint32_t>(i));
    } else {
      SendOn(s, now);
    }
  }
  ArmScheduler();
}

void LoadRun::SendOn(Slot& s, uint64_t sched_ns) {
  uint64_t now = uv_hrtime();
  uint64_t ref = options_.rate > 0 ? sched_ns : now;
  if (options_.requests > 0 && phase_ == Phase::kRunning && !options_.idle && Measured(ref)) {
    if (measured_sent_ == options_.requests) return EndMeasuring();
    ++measured_sent_;
  }
  scratch_.clear();
  const RequestFields& f = s.workload->NextRequest(&scratch_);
  s.user = f.user;
  s.eom = f.eom;
  s.sched_ns = sched_ns;
  s.sent_ns = now;
  s.awaiting = true;
  ++in_flight_;
  s.conn->Send(scratch_);
}

void LoadRun::Continue(Slot& s, uint64_t now) {
  if (options_.rate <= 0) return SendOn(s, now);
  uint64_t next = s.sched_ns + interval_ns_;
  if (next <= now) return SendOn(s, next);  // behind schedule: send at once, latency counts
  Schedule(next, static_cast<uint32_t>(s.conn->index()));
  ArmScheduler();
}

void LoadRun::OnReply(BenchConnection* c, std::string_view label) {
  uint64_t now = uv_hrtime();
  Slot& s = slots_[c->index()];
  s.awaiting = false;
  --in_flight_;
  ++result_.replies;
  if (s.eom && !active_users_.empty()) active_users_[s.user / 64] |= uint64_t{1} << (s.user % 64);
  bool open = options_.rate > 0;
  uint64_t ref = open ? s.sched_ns : s.sent_ns;
  if (Measured(ref)) {
    result_.latency.Record(now - ref);
    if (open) {
      result_.service.Record(now - s.sent_ns);
      result_.send_lag.Record(s.sent_ns - s.sched_ns);
    }
    ++result_.actions[std::string(label)];
    ++result_.measured;
    last_reply_ns_ = now;
  }
  if (phase_ == Phase::kRunning && !options_.idle) return Continue(s, now);
  MaybeHold();
  MaybeFinish();
}

void LoadRun::SendIdleRequests() {
  while (in_flight_ < kIdleInFlight && idle_next_ < slots_.size()) {
    Slot& s = slots_[idle_next_++];
    if (s.conn->state() == BenchConnection::State::kReady) SendOn(s, uv_hrtime());
  }
}

void LoadRun::MaybeHold() {
  if (!options_.idle || phase_ != Phase::kRunning) return;
  SendIdleRequests();
  if (in_flight_ > 0) return;
  std::fprintf(stderr, "ready connections=%d\n", result_.connected);
  std::fflush(stderr);
  phase_ = Phase::kHolding;
  uv_timer_start(&end_timer_, [](uv_timer_t* t) { static_cast<LoadRun*>(t->data)->Finish(); },
                 static_cast<uint64_t>(options_.duration_s * 1000), 0);
}

void LoadRun::OnClosed(BenchConnection* c, const char* reason) {
  Slot& s = slots_[c->index()];
  if (phase_ == Phase::kDone) return;
  if (reason[0] != '\0') ++result_.errors[reason];
  if (s.awaiting) {
    s.awaiting = false;
    --in_flight_;
  }
  s.retry_at_ns = uv_hrtime() + kReconnectNs;
  if (!s.tried) {
    s.tried = true;
    ++tried_;
    return MaybeStart();
  }
  MaybeHold();
  MaybeFinish();
}

void LoadRun::Schedule(uint64_t at_ns, uint32_t slot) { due_.emplace(at_ns, slot); }

void LoadRun::ArmScheduler() {
  uint64_t want = due_.empty() ? 0 : due_.top().first;
  if (want == armed_ns_) return;
  itimerspec its{};
  if (want != 0) {
    its.it_value.tv_sec = static_cast<time_t>(want / 1000000000);
    its.it_value.tv_nsec = static_cast<long>(want % 1000000000);
  }
  timerfd_settime(timer_fd_, TFD_TIMER_ABSTIME, &its, nullptr);
  armed_ns_ = want;
}

void LoadRun::OnSchedulerFired() {
  uint64_t expirations = 0;
  while (::read(timer_fd_, &expirations, sizeof expirations) > 0) {
  }
  armed_ns_ = 0;
  uint64_t now = uv_hrtime();
  while (phase_ == Phase::kRunning && !due_.empty() && due_.top().first <= now) {
    auto [at, index] = due_.top();
    due_.pop();
    Slot& s = slots_[index];
    if (s.conn->state() == BenchConnection::State::kReady) SendOn(s, at);
  }
  ArmScheduler();
}

void LoadRun::OnTick() {
  uint64_t now = uv_hrtime();
  auto timeout_ns = static_cast<uint64_t>(options_.timeout_s * 1e9);
  for (Slot& s : slots_) {
    switch (s.conn->state()) {
      case BenchConnection::State::kAwaiting:
        if (now - s.sent_ns > timeout_ns) s.conn->Abort("timeout");
        break;
      case BenchConnection::State::kIdle:
        if (s.tried && now >= s.retry_at_ns &&
            (phase_ == Phase::kRunning || phase_ == Phase::kHolding)) {
          s.conn->Connect();
        }
        break;
      default:
        break;
    }
  }
}

void LoadRun::EndMeasuring() {
  if (phase_ != Phase::kRunning) return;
  phase_ = Phase::kDraining;
  uv_timer_stop(&end_timer_);
  while (!due_.empty()) due_.pop();
  ArmScheduler();
  MaybeFinish();
}

void LoadRun::MaybeFinish() {
  if (phase_ == Phase::kDraining && in_flight_ == 0) Finish();
}

void LoadRun::Finish() {
  if (phase_ == Phase::kDone) return;
  phase_ = Phase::kDone;
  uint64_t end = last_reply_ns_ > warm_ns_ ? last_reply_ns_ : uv_hrtime();
  result_.elapsed_s = warm_ns_ && end > warm_ns_ ? (end - warm_ns_) / 1e9 : 0;
  uv_close(reinterpret_cast<uv_handle_t*>(&tick_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&end_timer_), nullptr);
  uv_close(reinterpret_cast<uv_handle_t*>(&sched_poll_), nullptr);
  for (Slot& s : slots_) s.conn->Abort();
}

}  // namespace policyd::bench
