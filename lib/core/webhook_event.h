// A webhook event as it travels: read from the events stream (PREFIXevents, written by
// _common.lua emit_event in the same script call as its cause) and sent as the JSON body
//   {"id": "1700000000000-0", "type": "block.created", "time": "2026-11-30T13:00:00.000Z",
//    "subject": "user:alice", "data": {...}}
// The id is the stream entry id: unique per relay, the same on every retry and on every
// instance, so receivers deduplicate by it (delivery is at least once). On a Redis Cluster an
// event reaches the stream through a slot's outbox (store/event_relay.h), which may add it
// twice; both entries carry the outbox id ("SLOTTAG-ENTRYID"), which is then the event's id.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/result.h"

namespace policyd {

struct WebhookEvent {
  std::string id;         // stream entry id
  std::string type;       // "block.created", ...
  uint64_t time_ms = 0;   // when the change happened (the script's clock)
  std::string subject;    // escaped tag as in Redis keys ("user:alice%20smith"), or ""
  std::string data_json;  // the facts, a JSON object as the script encoded it
  std::string outbox = {};  // the outbox id, on a cluster ("k3-1700000000000-0"); else ""

  // What receivers see as the event's id: the outbox id when there is one, else the entry id.
  const std::string& public_id() const { return outbox.empty() ? id : outbox; }
};

// Every type a script emits; [webhooks] endpoint events name these (or "*").
const std::vector<std::string_view>& WebhookEventTypes();

// true when an endpoint's events list takes `type`: "*" or the type itself.
bool EndpointWantsEvent(const std::vector<std::string>& events, std::string_view type);

// A stream entry (id and its field/value pairs) -> event; an entry without a type is an error.
Result<WebhookEvent> EventFromStreamEntry(
    std::string id, const std::vector<std::pair<std::string, std::string>>& fields);

// The delivery body (see above). The subject is unescaped ("user:alice smith"); data that is
// not a JSON object becomes {}; when data names a report and report_secret is set, data gets
// "report_url" too (the page the customer sees), built like the reply's {report_url}.
std::string WebhookBody(const WebhookEvent& event, std::string_view report_base_url,
                        std::string_view report_secret);

}  // namespace policyd
