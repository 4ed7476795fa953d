#include "store/event_relay.h"

#include <memory>
#include <vector>

#include "core/cluster_slot.h"
#include "core/redis_keys.h"
#include "core/report_slot.h"
#include "log/log.h"
#include "store/cluster_scan.h"

namespace policyd {
namespace {

// The home stream's cap, as _common.lua emit_event caps it on one Redis.
constexpr char kEventsMaxLen[] = "100000";

// The XADDs of one pass over an outbox, in flight at once on the home stream's connection.
struct Pass {
  std::vector<std::string> ids;  // the outbox entries read
  size_t waiting = 0;
  bool ok = true;
};

}  // namespace

EventRelay::EventRelay(uv_loop_t* loop, ClusterClient* cluster, ClusterScriptRunner* runner,
                       Options options)
    : cluster_(cluster),
      runner_(runner),
      options_(std::move(options)),
      timer_(loop, [this] { ScanNow(); }) {}

void EventRelay::Start() { timer_.Start(0, options_.scan_interval_ms); }

void EventRelay::Stop(std::function<void()> done) { timer_.Stop(std::move(done)); }

void EventRelay::ScanNow() {
  if (timer_.stopped() || scanning_) return;
  scanning_ = true;
  std::string head = options_.prefix + "events:";
  ScanPrimaries(
      cluster_, GlobEscape(head) + "{*", "stream", options_.timeout_ms,
      [this, head](const std::string& key) {
        std::string_view home = KeySlotTag(key, head);
        if (!home.empty()) Drain(std::string(home));
      },
      [this](bool ok) {
        scanning_ = false;
        ++(ok ? scans_ : failures_);
      });
}

void EventRelay::Notify(std::string_view home) { Drain(std::string(home)); }

void EventRelay::Drain(const std::string& home) {
  if (timer_.stopped()) return;
  auto [it, inserted] = draining_.emplace(home, false);
  if (!inserted) {
    it->second = true;  // the pass in flight may have read before the write
    return;
  }
  std::string outbox = options_.prefix + "events:{" + home + "}";
  cluster_->Command(KeySlot(outbox),
                    {"XRANGE", outbox, "-", "+", "COUNT", std::to_string(options_.batch)},
                    options_.timeout_ms,
                    [this, home](Result<RedisValue> r) { OnRange(home, std::move(r)); });
}

void EventRelay::OnRange(const std::string& home, Result<RedisValue> reply) {
  if (timer_.stopped()) return;
  if (!reply.ok() || reply->IsError()) return Finish(home, false, false);
  if (reply->elements.empty()) return Finish(home, true, false);
  std::string outbox = options_.prefix + "events:{" + home + "}";
  std::string stream = options_.prefix + "events";
  auto pass = std::make_shared<Pass>();
  std::vector<std::vector<std::string>> adds;
  for (const RedisValue& entry : reply->elements) {
    if (entry.elements.size() != 2) continue;
    std::string id = entry.elements[0].AsString();
    std::vector<std::string> argv = {"XADD", stream, "MAXLEN", "~", kEventsMaxLen, "*"};
    for (const RedisValue& f : entry.elements[1].elements) argv.push_back(f.AsString());
    argv.push_back("outbox");
    argv.push_back(home + "-" + id);
    pass->ids.push_back(std::move(id));
    adds.push_back(std::move(argv));
  }
  if (adds.empty()) return Finish(home, false, false);  // no well-formed entry: not ours
  pass->waiting = adds.size();  // before sending: a callback may run at once
  for (std::vector<std::string>& argv : adds) {
    // One connection per primary: the entries reach the home stream in the outbox's order.
    cluster_->Command(
        KeySlot(stream), std::move(argv), options_.timeout_ms,
        [this, home, outbox, pass](Result<RedisValue> r) {
          pass->ok = pass->ok && r.ok() && !r->IsError();
          if (--pass->waiting > 0 || timer_.stopped()) return;
          // An entry is removed only once every entry of the pass is in the home stream;
          // after a failure they all stay, to be added (again) by a later pass.
          if (!pass->ok) return Finish(home, false, false);
          moved_ += pass->ids.size();
          runner_->Run("outbox_ack", outbox, std::move(pass->ids), options_.timeout_ms,
                       [this, home](Result<RedisValue> left) {
                         if (timer_.stopped()) return;
                         Finish(home, left.ok(), left.ok() && left->AsInt() > 0);
                       });
        });
  }
}

void EventRelay::Finish(const std::string& home, bool ok, bool more) {
  auto it = draining_.find(home);
  if (it == draining_.end()) return;
  bool again = ok && (more || it->second);
  draining_.erase(it);
  if (!ok) {
    // The outbox keeps its entries; the next scan passes over it again.
    ++failures_;
    POLICYD_LOG_DEBUG("event=event_relay_failed {}", LogField("home", home));
    return;
  }
  if (again) Drain(home);
}

}  // namespace policyd
