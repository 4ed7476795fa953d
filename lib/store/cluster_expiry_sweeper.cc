#include "store/cluster_expiry_sweeper.h"

#include "core/redis_keys.h"
#include "core/report_slot.h"
#include "log/log.h"
#include "store/cluster_scan.h"

namespace policyd {

namespace {
constexpr char kSweepMax[] = "100";  // expiries per call, as on one Redis
}  // namespace

ClusterExpirySweeper::ClusterExpirySweeper(uv_loop_t* loop, ClusterClient* cluster,
                                           ClusterScriptRunner* runner, EventRelay* relay,
                                           Options options)
    : cluster_(cluster),
      runner_(runner),
      relay_(relay),
      options_(std::move(options)),
      timer_(loop, [this] { SweepNow(); }) {}

void ClusterExpirySweeper::Start() { timer_.Start(options_.interval_ms, options_.interval_ms); }

void ClusterExpirySweeper::Stop(std::function<void()> done) { timer_.Stop(std::move(done)); }

void ClusterExpirySweeper::SweepNow() {
  if (timer_.stopped() || !idle()) return;
  scanning_ = true;
  std::string head = options_.prefix + "block_expiries:";
  std::string now = std::to_string(options_.now());
  ScanPrimaries(
      cluster_, GlobEscape(head) + "{*", "zset", options_.timeout_ms,
      [this, head, now](const std::string& key) {
        std::string home(KeySlotTag(key, head));
        if (home.empty() || timer_.stopped()) return;
        ++calls_;
        // Routed by the index itself: the script touches it and the slot's outbox only.
        runner_->Run("block_expire_sweep", key, {options_.prefix, now, kSweepMax, home},
                     options_.timeout_ms, [this, home](Result<RedisValue> r) {
                       --calls_;
                       if (timer_.stopped()) return;
                       if (!r.ok()) {
                         ++failures_;
                         POLICYD_LOG_DEBUG("event=block_expiry_sweep_failed {} {}",
                                           LogField("home", home),
                                           LogField("error", r.error().message));
                         return;
                       }
                       expired_ += r->AsInt();
                       if (r->AsInt() > 0 && relay_ != nullptr) relay_->Notify(home);
                     });
      },
      [this](bool ok) {
        scanning_ = false;
        if (!ok) ++failures_;
      });
}

}  // namespace policyd
