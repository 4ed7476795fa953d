#include "store/local_refusals.h"

#include "core/decide_args.h"
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

LocalRefusals::LocalRefusals(uv_loop_t* loop, RedisClient* decision, ScriptRunner* scripts,
                             std::function<std::shared_ptr<const Config>()> config,
                             const RedisConfig& redis)
    : loop_(loop), decision_(decision), scripts_(scripts), config_(std::move(config)) {
  RedisClientOptions options{redis.connect_timeout_ms, redis.reconnect_min_ms,
                             redis.reconnect_max_ms};
  tracked_prefix_ = redis.key_prefix;
  listener_ = std::make_unique<InvalidationListener>(
      loop, TrackedPrefixes(redis.key_prefix), options,
      [this](const InvalidationListener::Keys* keys) { OnInvalidation(keys); });
  uv_timer_init(loop_, &flush_timer_);
  flush_timer_.data = this;
}

LocalRefusals::~LocalRefusals() = default;

bool LocalRefusals::usable() const {
  if (stopped_ || !decision_->ready() || !listener_->ready()) return false;
  const RedisEndpoint& a = decision_->endpoint();
  const RedisEndpoint& b = listener_->endpoint();
  return a.host == b.host && a.port == b.port && a.unix_path == b.unix_path;
}

void LocalRefusals::OnDecisionConnection(bool ready) {
  Clear();  // a reconnect (maybe to another primary) invalidates everything we learned
  if (ready) listener_->Follow(decision_->endpoint());
}

void LocalRefusals::OnInvalidation(const InvalidationListener::Keys* keys) {
  counters_.invalidations = listener_->invalidations();
  if (keys == nullptr) return Clear();  // connection change, or FLUSHALL/FLUSHDB
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
      &flush_timer_, [](uv_timer_t* t) { static_cast<LocalRefusals*>(t->data)->Flush(); },
      delay_ms, 0);
}

void LocalRefusals::Flush() {
  if (stopped_ || flush_in_flight_) return;
  std::vector<ThrottleBatch> batches = cache_.TakeBatches();
  if (batches.empty()) return;
  std::shared_ptr<const Config> config = config_();
  // Home '': one Redis (record_throttles.lua).
  std::vector<std::string> args = {config->redis.key_prefix, AbuseSpec(*config).escalation, "0",
                                   std::to_string(config->report.ttl_ms), ""};
  uint64_t throttles = 0;
  for (const ThrottleBatch& b : batches) {
    args.push_back(b.subject);
    args.push_back(std::to_string(b.n));
    args.push_back(NewReportId());
    args.push_back(b.detail);
    throttles += b.n;
  }
  flush_in_flight_ = true;
  uint64_t generation = cache_.generation();
  int events = config->abuse.throttle_events;
  scripts_->Run(
      "record_throttles", std::move(args), config->server.request_timeout_ms,
      [this, batches = std::move(batches), generation, events,
       throttles](Result<RedisValue> reply) {
        flush_in_flight_ = false;
        if (stopped_) return;
        if (!reply.ok() || reply->IsError()) probe_waiting_ = false;
        if (!reply.ok() || reply->IsError() || reply->elements.size() != batches.size()) {
          // The throttles are lost; the refusals they stand for were answered. Start over.
          POLICYD_LOG_WARN("event=record_throttles_failed throttles={} {}", throttles,
                           LogField("error", reply.ok() ? reply->str : reply.error().message));
          Clear();
          return;
        }
        counters_.throttles_recorded += throttles;
        for (std::size_t i = 0; i < batches.size(); ++i) {
          const RedisValue& r = reply->elements[i];
          if (r.elements.size() != 2) continue;
          cache_.OnRecorded(batches[i].subject, r.elements[0].integer,
                            r.elements[1].integer != 0, events, generation);
        }
        // Refusals made meanwhile wait for the next interval; a new subject's probe does not.
        ScheduleFlush(probe_waiting_ ? kProbeDelayMs : kFlushIntervalMs);
        probe_waiting_ = false;
      });
}

void LocalRefusals::Stop(std::function<void()> done) {
  stopped_ = true;
  cache_.Clear();
  access_.Clear();
  uv_close(reinterpret_cast<uv_handle_t*>(&flush_timer_), nullptr);
  listener_->Stop(std::move(done));
}

}  // namespace policyd
