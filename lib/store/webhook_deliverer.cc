#include "store/webhook_deliverer.h"

#include <openssl/rand.h>
#include <unistd.h>

#include <chrono>

#include "core/cluster_slot.h"
#include "core/hex.h"
#include "core/http_client_wire.h"
#include "core/webhook_retry.h"
#include "core/webhook_signature.h"
#include "log/log.h"
#include "net/http_post.h"
#include "store/wall_clock.h"

namespace policyd {
namespace {

constexpr size_t kBatchSize = 100;     // events per endpoint per poll
constexpr const char* kBatch = "100";  // kBatchSize, as Redis takes it
constexpr size_t kMaxInFlight = 16;    // POSTs per endpoint at once
constexpr int64_t kMaxOwned = 1000;    // pending events per endpoint before reading no more

uint64_t WallMs() { return static_cast<uint64_t>(WallClockMs()); }

std::string ConsumerName() {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  unsigned char random[4];
  RAND_bytes(random, sizeof random);
  return fmt::format("{}:{}:{}", host, getpid(), HexLower(random, sizeof random));
}

bool IsNoGroup(const Result<RedisValue>& r) {
  return r.ok() && r->IsError() && r->str.starts_with("NOGROUP");
}

}  // namespace

WebhookDeliverer::WebhookDeliverer(LoopContext* context)
    : context_(context), consumer_(ConsumerName()), timer_(context->loop(), [this] { Tick(); }) {}

WebhookDeliverer::~WebhookDeliverer() = default;

void WebhookDeliverer::Start() {
  uint64_t every = context_->config()->webhooks.poll_interval_ms;
  timer_.Start(every, every);
}

void WebhookDeliverer::Stop(std::function<void()> done) {
  stopped_ = true;
  for (auto& [name, state] : endpoints_) {
    for (auto& [id, post] : state.in_flight) post->Abort();
    state.in_flight.clear();
  }
  timer_.Stop(std::move(done));
}

std::string WebhookDeliverer::StreamKey() const {
  return context_->config()->redis.key_prefix + "events";
}

std::string WebhookDeliverer::RetryKey(const std::string& endpoint) const {
  return context_->config()->redis.key_prefix + "webhook:" + endpoint;
}

const WebhookEndpoint* WebhookDeliverer::FindEndpoint(const std::string& name) const {
  for (const WebhookEndpoint& e : context_->config()->webhooks.endpoints) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

void WebhookDeliverer::Command(const std::string& key, std::vector<std::string> argv,
                               std::function<void(Result<RedisValue>)> done) {
  uint64_t timeout = context_->config()->server.request_timeout_ms;
  auto checked = [this, done = std::move(done)](Result<RedisValue> r) {
    if (!stopped_) done(std::move(r));
  };
  // Each command touches one key: on a cluster it goes to that key's primary, in order with
  // the other commands on the same key (one connection per primary).
  if (ClusterClient* cluster = context_->cluster()) {
    return cluster->Command(KeySlot(key), std::move(argv), timeout, std::move(checked));
  }
  context_->redis()->Command(std::move(argv), timeout, std::move(checked));
}

void WebhookDeliverer::Count(const std::string& endpoint, const char* outcome) {
  std::lock_guard<std::mutex> lock(context_->metrics_mutex());
  ++context_->metrics().webhook_deliveries[{endpoint, outcome}];
}

void WebhookDeliverer::Tick() {
  if (stopped_ || !context_->redis_ready()) return;
  // A reload may change the interval; the next tick uses it.
  timer_.SetPeriod(context_->config()->webhooks.poll_interval_ms);
  for (const WebhookEndpoint& endpoint : context_->config()->webhooks.endpoints) {
    EndpointState& state = endpoints_[endpoint.name];
    if (state.polling) continue;
    state.polling = true;
    state.settled_during_poll.clear();
    Poll(endpoint);
  }
}

void WebhookDeliverer::Poll(const WebhookEndpoint& endpoint) {
  EndpointState& state = endpoints_[endpoint.name];
  if (state.group_ready) return ClaimAndRead(endpoint);
  // '$': an endpoint gets the events from when its group is made, not the stream's history.
  std::string start = state.group_lost ? "0" : "$";
  Command(StreamKey(), {"XGROUP", "CREATE", StreamKey(), Group(endpoint.name), start, "MKSTREAM"},
          [this, name = endpoint.name](Result<RedisValue> r) {
            EndpointState& state = endpoints_[name];
            const WebhookEndpoint* endpoint = FindEndpoint(name);
            bool made = r.ok() && (!r->IsError() || r->str.starts_with("BUSYGROUP"));
            if (!made || !endpoint) {
              if (!r.ok() || r->IsError()) {
                POLICYD_LOG_WARN("event=webhook_group_failed endpoint={} {}", name,
                                 LogField("error", r.ok() ? r->str : r.error().message));
              }
              state.polling = false;
              return;
            }
            state.group_ready = true;
            state.group_lost = false;
            ClaimAndRead(*endpoint);
          });
}

void WebhookDeliverer::ClaimAndRead(const WebhookEndpoint& endpoint) {
  const Config& c = *context_->config();
  std::string key = StreamKey(), group = Group(endpoint.name), name = endpoint.name;
  auto check = [this, name](Result<RedisValue> r) {
    if (IsNoGroup(r)) {  // the stream was deleted
      endpoints_[name].group_ready = false;
      endpoints_[name].group_lost = true;
    }
  };
  // Pipelined: Redis runs them in order, so each command sees what the ones before moved.
  Command(key,
          {"XAUTOCLAIM", key, group, consumer_, std::to_string(c.webhooks.claim_after_ms), "0-0",
           "COUNT", kBatch, "JUSTID"},
          check);
  Command(key, {"XPENDING", key, group}, [this, key, group, name, check](Result<RedisValue> r) {
    // Summary: [count, first id, last id, [[consumer, count], ...]].
    int64_t owned = 0;
    if (r.ok() && !r->IsError() && r->elements.size() == 4) {
      for (const RedisValue& holder : r->elements[3].elements) {
        if (holder.elements.size() == 2 && holder.elements[0].AsString() == consumer_) {
          owned = holder.elements[1].AsInt();
        }
      }
    }
    if (owned < kMaxOwned) {
      Command(key, {"XREADGROUP", "GROUP", group, consumer_, "COUNT", kBatch, "STREAMS", key, ">"},
              check);
    }
    ReadOwnPending(name);
  });
  EndpointState& state = endpoints_[name];
  uint64_t now = uv_now(context_->loop());
  if (now - state.last_cleanup_ms >= c.webhooks.claim_after_ms) {
    state.last_cleanup_ms = now;
    ForgetDeadConsumers(endpoint);
  }
}

void WebhookDeliverer::ForgetDeadConsumers(const WebhookEndpoint& endpoint) {
  std::string key = StreamKey(), group = Group(endpoint.name);
  uint64_t claim_after = context_->config()->webhooks.claim_after_ms;
  Command(key, {"XINFO", "CONSUMERS", key, group},
          [this, key, group, claim_after](Result<RedisValue> r) {
            if (!r.ok() || r->IsError()) return;
            for (const RedisValue& consumer : r->elements) {
              std::string name;
              int64_t pending = -1, idle = -1;
              for (size_t i = 0; i + 1 < consumer.elements.size(); i += 2) {
                std::string field = consumer.elements[i].AsString();
                if (field == "name") name = consumer.elements[i + 1].AsString();
                if (field == "pending") pending = consumer.elements[i + 1].AsInt();
                if (field == "idle") idle = consumer.elements[i + 1].AsInt();
              }
              // A live instance reads every poll_interval, so its idle time stays far below this.
              if (name.empty() || name == consumer_ || pending != 0 ||
                  idle < static_cast<int64_t>(claim_after)) {
                continue;
              }
              Command(key, {"XGROUP", "DELCONSUMER", key, group, name}, [](Result<RedisValue>) {});
            }
          });
}

void WebhookDeliverer::ReadOwnPending(const std::string& name) {
  std::string key = StreamKey(), group = Group(name);
  Command(key, {"XPENDING", key, group, endpoints_[name].pending_cursor, "+", kBatch, consumer_},
          [this, key, group, name](Result<RedisValue> pending) {
            EndpointState& state = endpoints_[name];
            std::vector<std::string> ids;
            if (pending.ok() && !pending->IsError()) {
              for (const RedisValue& p : pending->elements) {
                if (!p.elements.empty()) ids.push_back(p.elements[0].AsString());
              }
            }
            // A full batch: the next poll goes on after it; else it starts over.
            bool full = ids.size() == kBatchSize;
            state.pending_cursor = full ? "(" + ids.back() : "-";
            if (ids.empty()) {
              state.polling = false;
              return;
            }
            // XCLAIM to ourselves with min-idle 0: resets the idle time of every event we
            // hold (so no other instance takes it over) and returns the events' fields.
            std::vector<std::string> claim = {"XCLAIM", key, group, consumer_, "0"};
            std::vector<std::string> hmget = {"HMGET", RetryKey(name)};
            claim.insert(claim.end(), ids.begin(), ids.end());
            hmget.insert(hmget.end(), ids.begin(), ids.end());
            auto entries = std::make_shared<RedisValue>();
            Command(key, std::move(claim), [entries](Result<RedisValue> r) {
              if (r.ok() && !r->IsError()) *entries = std::move(*r);
            });
            Command(RetryKey(name), std::move(hmget),
                    [this, name, ids, entries](Result<RedisValue> states) {
                      endpoints_[name].polling = false;
                      const WebhookEndpoint* endpoint = FindEndpoint(name);
                      if (!endpoint || !states.ok() || states->IsError()) return;
                      DeliverDue(*endpoint, ids, *states, *entries);
                    });
          });
}

void WebhookDeliverer::DeliverDue(const WebhookEndpoint& endpoint,
                                  const std::vector<std::string>& ids, const RedisValue& states,
                                  const RedisValue& entries) {
  EndpointState& state = endpoints_[endpoint.name];
  std::map<std::string, RetryState> retry;
  for (size_t i = 0; i < ids.size() && i < states.elements.size(); ++i) {
    if (auto s = ParseRetryState(states.elements[i].AsString())) retry[ids[i]] = *s;
  }
  uint64_t now = WallMs();
  for (const RedisValue& entry : entries.elements) {
    if (entry.elements.size() != 2) continue;  // an event trimmed from the stream
    std::string id = entry.elements[0].AsString();
    if (state.in_flight.count(id) || state.settled_during_poll.count(id) ||
        state.in_flight.size() >= kMaxInFlight) {
      continue;
    }
    auto it = retry.find(id);
    if (it != retry.end() && it->second.next_at_ms > now) continue;
    std::vector<std::pair<std::string, std::string>> fields;
    const auto& flat = entry.elements[1].elements;
    for (size_t i = 0; i + 1 < flat.size(); i += 2) {
      fields.emplace_back(flat[i].AsString(), flat[i + 1].AsString());
    }
    Result<WebhookEvent> event = EventFromStreamEntry(id, fields);
    if (!event || !EndpointWantsEvent(endpoint.events, event->type)) {
      // Not for this endpoint: acknowledged, never sent.
      Command(StreamKey(), {"XACK", StreamKey(), Group(endpoint.name), id},
              [](Result<RedisValue>) {});
      continue;
    }
    Deliver(endpoint, *event, it == retry.end() ? 0 : it->second.failed_attempts);
  }
}

void WebhookDeliverer::Deliver(const WebhookEndpoint& endpoint, const WebhookEvent& event,
                               int failed_attempts) {
  const Config& c = *context_->config();
  Result<HttpUrl> url = ParseHttpUrl(endpoint.url);  // checked at load; cannot fail here
  if (!url) return;
  std::string body = WebhookBody(event, c.report.base_url, c.report.secret);
  int64_t now_s = static_cast<int64_t>(WallMs() / 1000);
  std::string request = FormatHttpPost(
      *url,
      {{std::string(kWebhookSignatureHeader), WebhookSignature(endpoint.secret, now_s, body)},
       {"X-Policyd-Event", event.type},
       {"X-Policyd-Event-Id", event.public_id()}},
      body);
  std::string name = endpoint.name, id = event.id;
  endpoints_[name].in_flight[id] =
      HttpPost::Start(context_->loop(), *url, std::move(request), c.webhooks.timeout_ms,
                      [this, name, id, failed_attempts](int status, const std::string& error) {
                        EndpointState& state = endpoints_[name];
                        state.in_flight.erase(id);
                        if (state.polling) state.settled_during_poll.insert(id);
                        if (!stopped_) OnAttempt(name, id, failed_attempts, status, error);
                      });
}

void WebhookDeliverer::OnAttempt(const std::string& endpoint, const std::string& id,
                                 int failed_attempts, int status, const std::string& error) {
  DeliveryOutcome outcome = ClassifyDeliveryStatus(status);
  std::optional<uint64_t> delay;
  if (outcome == DeliveryOutcome::kRetry) {
    delay = RetryDelay(context_->config()->webhooks.RetryDelaysMs(), failed_attempts + 1);
    if (!delay) outcome = DeliveryOutcome::kFailed;  // the schedule is used up
  }
  auto ignore = [](Result<RedisValue>) {};
  if (outcome == DeliveryOutcome::kRetry) {
    RetryState next{failed_attempts + 1, WallMs() + *delay};
    Command(RetryKey(endpoint), {"HSET", RetryKey(endpoint), id, FormatRetryState(next)}, ignore);
    Count(endpoint, "retried");
    POLICYD_LOG_INFO("event=webhook_retry endpoint={} id={} status={} attempt={} retry_in_ms={} {}",
                     endpoint, id, status, failed_attempts + 1, *delay, LogField("error", error));
    return;
  }
  Command(StreamKey(), {"XACK", StreamKey(), Group(endpoint), id}, ignore);
  Command(RetryKey(endpoint), {"HDEL", RetryKey(endpoint), id}, ignore);
  if (outcome == DeliveryOutcome::kDelivered) {
    Count(endpoint, "delivered");
    POLICYD_LOG_DEBUG("event=webhook_delivered endpoint={} id={} status={}", endpoint, id, status);
  } else {
    Count(endpoint, "failed");
    POLICYD_LOG_WARN("event=webhook_failed endpoint={} id={} status={} attempts={} {}", endpoint,
                     id, status, failed_attempts + 1, LogField("error", error));
  }
}

}  // namespace policyd
