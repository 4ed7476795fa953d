// Delivers the events stream (PREFIXevents, _common.lua emit_event) to the [webhooks]
// endpoints, on the primary loop of every policyd instance (issue 20).
//
// One Redis consumer group per endpoint ("webhook:NAME") on the stream, so each event goes to
// one instance, not to every instance. Every poll_interval, per endpoint:
//   1. XAUTOCLAIM: events pending at a consumer silent for claim_after (a killed or wedged
//      instance) become this instance's;
//   2. XREADGROUP ... >: new events become this instance's (pending until acknowledged),
//      unless it already holds kMaxOwned: then other instances (or later polls) take them;
//   3. XPENDING + XCLAIM of the next batch of this instance's own pending events: the claim
//      keeps them fresh (so no live instance's events are taken over) and returns their
//      fields;
//   4. each one that is due (no retry state, or its retry time has come) and not in flight
//      is POSTed (net/http_post.h), signed (core/webhook_signature.h);
// and every claim_after, consumers of gone instances with nothing pending are deleted.
// A 2xx is XACKed; a retryable outcome stores "failed_attempts next_at" in PREFIXwebhook:NAME
// (core/webhook_retry.h) and the event stays pending, so whichever instance holds it later
// continues the schedule; a final failure is XACKed and logged. Delivery is at least once: an
// instance killed after the receiver answered but before the XACK leaves the event to be sent
// again, with the same id.
#pragma once

#include <uv.h>

#include <cstdint>
#include <functional>
#include <map>
#include <set>
#include <string>

#include "core/config.h"
#include "core/webhook_event.h"
#include "net/periodic_timer.h"
#include "store/loop_context.h"

namespace policyd {

class HttpPost;

class WebhookDeliverer {
 public:
  // context must outlive the deliverer; nothing happens until Start().
  explicit WebhookDeliverer(LoopContext* context);
  ~WebhookDeliverer();
  WebhookDeliverer(const WebhookDeliverer&) = delete;
  WebhookDeliverer& operator=(const WebhookDeliverer&) = delete;

  void Start();
  // Abandons deliveries in flight (their events stay pending, to be sent again) and closes the
  // timer; done runs once it is closed.
  void Stop(std::function<void()> done);

  const std::string& consumer() const { return consumer_; }

 private:
  struct EndpointState {
    bool group_ready = false;
    // The group vanished (Redis lost the stream: a restart without persistence, a FLUSHALL):
    // the stream made again holds only events since, so the new group starts at its head.
    bool group_lost = false;
    bool polling = false;                        // a poll cycle is waiting for Redis
    std::map<std::string, HttpPost*> in_flight;  // by event id
    // Events whose attempt ended while a poll was waiting for Redis: that poll may have read
    // them as pending before their XACK or retry state was written, so it skips them.
    std::set<std::string> settled_during_poll;
    uint64_t last_cleanup_ms = 0;  // loop time of the last ForgetDeadConsumers
    // Where the next poll's look at our pending events starts ("-" or "(ID"): each poll takes
    // the next batch, so events waiting for a late retry never hide the ones behind them.
    std::string pending_cursor = "-";
  };

  void Tick();
  void Poll(const WebhookEndpoint& endpoint);
  void ClaimAndRead(const WebhookEndpoint& endpoint);
  void ReadOwnPending(const std::string& name);
  // Each start of an instance adds a consumer to every group; once one has nothing pending
  // and has not read for claim_after (its instance is gone), it is deleted.
  void ForgetDeadConsumers(const WebhookEndpoint& endpoint);
  void DeliverDue(const WebhookEndpoint& endpoint, const std::vector<std::string>& ids,
                  const RedisValue& states, const RedisValue& entries);
  void Deliver(const WebhookEndpoint& endpoint, const WebhookEvent& event, int failed_attempts);
  void OnAttempt(const std::string& endpoint_name, const std::string& id, int failed_attempts,
                 int status, const std::string& error);
  void Count(const std::string& endpoint, const char* outcome);
  // argv touches `key` only: on a Redis Cluster it is sent to that key's primary.
  void Command(const std::string& key, std::vector<std::string> argv,
               std::function<void(Result<RedisValue>)> done);
  // The endpoint of that name in the current config, or null (removed by a reload).
  const WebhookEndpoint* FindEndpoint(const std::string& name) const;

  std::string StreamKey() const;
  std::string RetryKey(const std::string& endpoint) const;
  static std::string Group(const std::string& endpoint) { return "webhook:" + endpoint; }

  LoopContext* context_;
  std::string consumer_;  // this process in every group: host:pid:random
  std::map<std::string, EndpointState> endpoints_;
  PeriodicTimer timer_;
  bool stopped_ = false;
};

}  // namespace policyd
