#include "store/local_refusals.h"

#include "core/decide_args.h"
#include "core/redis_keys.h"
#include "core/report_slot.h"
#include "core/report_token.h"
#include "log/log.h"

namespace policyd {

std::vector<std::string> TrackedPrefixes(const std::string& key_prefix) {
  // "pd:block:" does not cover "pd:blockhist:" (the colon), which escalation writes often.
  std::vector<std::string> out;
  // Not "rate:": every counted message writes a window, and BCAST would make Redis publish
  // each write to every loop of every instance (about 10 µs of Redis per subscriber per
  // END-OF-MESSAGE, measured); counters only grow inside a window, so a refusal stays true.
  for (const char* type : {"user", "account", "domains", "grants", "block"}) {
    out.push_back(key_prefix + type + ":");
  }
  return out;
}

namespace {

RedisClientOptions ListenerOptions(const RedisConfig& redis) {
  return {redis.connect_timeout_ms, redis.reconnect_min_ms, redis.reconnect_max_ms};
}

}  // namespace

LocalRefusals::LocalRefusals(uv_loop_t* loop, std::function<std::shared_ptr<const Config>()> config,
                             const RedisConfig& redis)
    : loop_(loop), config_(std::move(config)), tracked_prefix_(redis.key_prefix) {
  uv_timer_init(loop_, &flush_timer_);
  flush_timer_.data = this;
}

LocalRefusals::LocalRefusals(uv_loop_t* loop, RedisClient* decision, ScriptRunner* scripts,
                             std::function<std::shared_ptr<const Config>()> config,
                             const RedisConfig& redis)
    : LocalRefusals(loop, std::move(config), redis) {
  decision_ = decision;
  scripts_ = scripts;
  listener_ = std::make_unique<InvalidationListener>(
      loop, TrackedPrefixes(redis.key_prefix), ListenerOptions(redis),
      [this](const InvalidationListener::Keys* keys) { OnInvalidation(keys); });
}

LocalRefusals::LocalRefusals(uv_loop_t* loop, ClusterClient* cluster, ClusterScriptRunner* scripts,
                             std::function<std::shared_ptr<const Config>()> config,
                             const RedisConfig& redis)
    : LocalRefusals(loop, std::move(config), redis) {
  cluster_ = cluster;
  cluster_scripts_ = scripts;
  cluster_listener_ = std::make_unique<ClusterInvalidation>(
      loop, cluster, TrackedPrefixes(redis.key_prefix), ListenerOptions(redis),
      [this](const InvalidationListener::Keys* keys) { OnInvalidation(keys); });
  cluster_listener_->Start();  // follows every map the client reads from now on
}

LocalRefusals::~LocalRefusals() = default;

bool LocalRefusals::usable() const {
  if (stopped_) return false;
  if (cluster_) return cluster_->ready() && cluster_listener_->ready();
  if (!decision_->ready() || !listener_->ready()) return false;
  const RedisEndpoint& a = decision_->endpoint();
  const RedisEndpoint& b = listener_->endpoint();
  return a.host == b.host && a.port == b.port && a.unix_path == b.unix_path;
}

size_t LocalRefusals::listeners() const {
  if (cluster_listener_) return cluster_listener_->listeners();
  return listener_->ready() ? 1 : 0;
}

void LocalRefusals::OnDecisionConnection(bool ready) {
  ++counters_.resets;
  Clear();  // a reconnect (maybe to another primary) invalidates everything we learned
  // A cluster's listeners follow the map themselves (ClusterInvalidation).
  if (ready && listener_) listener_->Follow(decision_->endpoint());
}

void LocalRefusals::OnInvalidation(const InvalidationListener::Keys* keys) {
  if (keys == nullptr) {  // a listener's connection changed, new primaries, FLUSHALL/FLUSHDB
    ++counters_.resets;
    return Clear();
  }
  ++counters_.invalidations;
  // Read-mostly state changed: what we learnt from it may be wrong now.
  if (!keys->empty()) Clear();
}

void LocalRefusals::Clear() {
  if (cache_.size() > 0) ++counters_.clears;
  if (access_.size() > 0) ++counters_.access_clears;
  cache_.Clear();
  access_.Clear();  // also when empty: a fill in flight must not be stored
}

std::optional<Verdict> LocalRefusals::Answer(const Config& config, const PolicyRequest& request) {
  if (cache_.size() == 0 || !usable()) return std::nullopt;
  if (config.redis.key_prefix != tracked_prefix_) return std::nullopt;  // reloaded: not tracked
  std::optional<RefusalKey> key = RefusalCache::KeyFor(request, config);
  if (!key) return std::nullopt;
  std::optional<Verdict> verdict = cache_.Answer(*key, uv_now(loop_));
  if (verdict) {
    ++counters_.hits;
    verdict->user = std::string(request.SaslUsername());
    ScheduleFlush(kFlushIntervalMs);
  }
  return verdict;
}

LocalRefusals::Ticket LocalRefusals::Prepare(const Config& config,
                                             const PolicyRequest& request) const {
  Ticket t;
  if (!usable() || config.redis.key_prefix != tracked_prefix_) return t;
  t.key = RefusalCache::KeyFor(request, config);
  t.sent_ms = uv_now(loop_);
  t.generation = cache_.generation();
  return t;
}

void LocalRefusals::Learn(const Ticket& ticket, const Verdict& verdict) {
  if (!ticket.key || verdict.action != Action::kThrottled) return;
  if (!usable()) return;
  if (cache_.Remember(*ticket.key, verdict, ticket.sent_ms, ticket.generation)) {
    ScheduleFlush(kProbeDelayMs);
  }
}

void LocalRefusals::ScheduleFlush(uint64_t delay_ms) {
  if (stopped_) return;
  if (flush_in_flight_) {
    probe_waiting_ = probe_waiting_ || delay_ms == kProbeDelayMs;
    return;  // the reply schedules the next one
  }
  if (uv_is_active(reinterpret_cast<uv_handle_t*>(&flush_timer_)) &&
      uv_timer_get_due_in(&flush_timer_) <= delay_ms) {
    return;
  }
  uv_timer_start(
      &flush_timer_, [](uv_timer_t* t) { static_cast<LocalRefusals*>(t->data)->Flush(); }, delay_ms,
      0);
}

// One Redis: every subject in one call (home ''). A cluster: one call per slot, since a call
// may touch one slot only; subjects of one slot share its slot-tag, which is the call's home.
std::vector<LocalRefusals::FlushCall> LocalRefusals::GroupBySlot(
    std::vector<ThrottleBatch> batches) const {
  std::vector<std::string_view> subjects;
  for (const ThrottleBatch& b : batches) subjects.push_back(b.subject);
  std::vector<FlushCall> calls;
  for (SlotGroup& g : GroupBySubjectSlot(subjects, cluster_ != nullptr)) {
    FlushCall& call = calls.emplace_back(FlushCall{std::move(g.home), {}});
    for (std::size_t i : g.items) call.batches.push_back(std::move(batches[i]));
  }
  return calls;
}

void LocalRefusals::RunRecordThrottles(const Config& config, const FlushCall& call,
                                       std::vector<std::string> args, RedisClient::Callback done) {
  uint64_t timeout = config.server.request_timeout_ms;
  if (!cluster_)
    return scripts_->Run("record_throttles", std::move(args), timeout, std::move(done));
  // Routed by the first subject's throttle list: every key of the call is in its slot.
  std::string route = BuildKey(config.redis.key_prefix, "throttles", call.batches[0].subject);
  cluster_scripts_->Run("record_throttles", std::move(route), std::move(args), timeout,
                        std::move(done));
}

void LocalRefusals::Flush() {
  if (stopped_ || flush_in_flight_) return;
  std::vector<ThrottleBatch> batches = cache_.TakeBatches();
  if (batches.empty()) return;
  std::shared_ptr<const Config> config = config_();
  std::vector<FlushCall> calls = GroupBySlot(std::move(batches));
  flush_in_flight_ = true;
  auto waiting = std::make_shared<size_t>(calls.size());
  auto failed = std::make_shared<bool>(false);
  uint64_t generation = cache_.generation();
  int events = config->abuse.throttle_events;
  for (FlushCall& c : calls) {
    std::vector<std::string> args = {config->redis.key_prefix, AbuseSpec(*config).escalation, "0",
                                     std::to_string(config->report.ttl_ms), c.home};
    for (const ThrottleBatch& b : c.batches) {
      args.push_back(b.subject);
      args.push_back(std::to_string(b.n));
      // On a cluster a block's report is written in the subject's slot.
      args.push_back(cluster_ ? NewReportId(b.subject) : NewReportId());
      args.push_back(b.detail);
    }
    auto call = std::make_shared<FlushCall>(std::move(c));
    RunRecordThrottles(*config, *call, std::move(args),
                       [this, call, waiting, failed, generation, events](Result<RedisValue> reply) {
                         if (stopped_) return;
                         if (!OnRecorded(*call, reply, generation, events)) *failed = true;
                         if (--*waiting > 0) return;
                         flush_in_flight_ = false;
                         if (*failed) {
                           probe_waiting_ = false;
                           return;  // started over (Clear); the next refusal schedules a flush
                         }
                         // Refusals made meanwhile wait for the next interval; a new subject's
                         // probe does not.
                         ScheduleFlush(probe_waiting_ ? kProbeDelayMs : kFlushIntervalMs);
                         probe_waiting_ = false;
                       });
  }
}

bool LocalRefusals::OnRecorded(const FlushCall& call, const Result<RedisValue>& reply,
                               uint64_t generation, int events) {
  uint64_t throttles = 0;
  for (const ThrottleBatch& b : call.batches) throttles += b.n;
  if (!reply.ok() || reply->IsError() || reply->elements.size() != call.batches.size()) {
    // The throttles are lost; the refusals they stand for were answered. Start over.
    POLICYD_LOG_WARN("event=record_throttles_failed throttles={} {}", throttles,
                     LogField("error", reply.ok() ? reply->str : reply.error().message));
    Clear();
    return false;
  }
  counters_.throttles_recorded += throttles;
  for (std::size_t i = 0; i < call.batches.size(); ++i) {
    const RedisValue& r = reply->elements[i];
    if (r.elements.size() < 2) continue;  // record_throttles.lua: { length, blocked, ... }
    cache_.OnRecorded(call.batches[i].subject, r.elements[0].integer, r.elements[1].integer != 0,
                      events, generation);
  }
  return true;
}

void LocalRefusals::Stop(std::function<void()> done) {
  stopped_ = true;
  cache_.Clear();
  access_.Clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&flush_timer_), nullptr);
  if (cluster_listener_) return cluster_listener_->Stop(std::move(done));
  listener_->Stop(std::move(done));
}

}  // namespace policyd
