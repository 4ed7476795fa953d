// The webhook body built from a stream entry: fields, time format, subject unescaping,
// report_url, and what an endpoint's events list takes.
#include "core/webhook_event.h"

#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "core/report_token.h"

namespace policyd {

TEST_CASE("EventFromStreamEntry reads type, subject, time and data; no type is an error") {
  auto e = EventFromStreamEntry("1700000000000-0", {{"type", "block.created"},
                                                    {"subject", "user:alice"},
                                                    {"time", "1700000000123"},
                                                    {"data", R"({"reason":"spam"})"}});
  REQUIRE(e.ok());
  CHECK(e->id == "1700000000000-0");
  CHECK(e->type == "block.created");
  CHECK(e->subject == "user:alice");
  CHECK(e->time_ms == 1700000000123u);
  CHECK(e->public_id() == "1700000000000-0");
  CHECK_FALSE(EventFromStreamEntry("1-0", {{"subject", "user:a"}}).ok());
}

TEST_CASE("an event relayed on a cluster is known by its outbox id, whichever copy it is") {
  for (const char* entry : {"1700000000500-0", "1700000000600-0"}) {  // two copies
    auto e = EventFromStreamEntry(entry, {{"type", "block.created"},
                                          {"time", "1700000000123"},
                                          {"outbox", "k3-1700000000000-0"}});
    REQUIRE(e.ok());
    CHECK(e->id == entry);  // what the stream and the retry state use
    CHECK(e->public_id() == "k3-1700000000000-0");
    CHECK(nlohmann::json::parse(WebhookBody(*e, "", ""))["id"] == "k3-1700000000000-0");
  }
}

TEST_CASE("WebhookBody: id, type, RFC 3339 time, unescaped subject, data with report_url") {
  std::string report = "0123456789abcdef0123";
  WebhookEvent e{"1700000000000-0", "block.created", 1700000000123, "user:alice%20smith%7B",
                 R"({"reason":"spam","report":")" + report + R"("})"};
  auto body =
      nlohmann::json::parse(WebhookBody(e, "https://relay.example/report", "s3cr3t-s3cr3t-16"));
  CHECK(body["id"] == "1700000000000-0");
  CHECK(body["type"] == "block.created");
  CHECK(body["time"] == "2023-11-14T22:13:20.123Z");
  CHECK(body["subject"] == "user:alice smith{");
  CHECK(body["data"]["reason"] == "spam");
  CHECK(body["data"]["report_url"] ==
        ReportUrl("https://relay.example/report", "s3cr3t-s3cr3t-16", report));
}

TEST_CASE("WebhookBody: data that is not an object becomes {}; no report, no report_url") {
  WebhookEvent e{"1-0", "throttle.started", 0, "", "not json"};
  auto body = nlohmann::json::parse(WebhookBody(e, "http://x/report", "s3cr3t-s3cr3t-16"));
  CHECK(body["data"] == nlohmann::json::object());
  CHECK(body["time"] == "1970-01-01T00:00:00.000Z");
  e.data_json = R"({"report":"../../etc"})";  // not a report id: no URL built from it
  body = nlohmann::json::parse(WebhookBody(e, "http://x/report", "s3cr3t-s3cr3t-16"));
  CHECK_FALSE(body["data"].contains("report_url"));
}

TEST_CASE("WebhookBody: invalid UTF-8 in a subject is replaced, not thrown") {
  WebhookEvent e{"1-0", "block.created", 0, "user:%FF%FE", "{}"};
  CHECK_NOTHROW(nlohmann::json::parse(WebhookBody(e, "", "")));
}

TEST_CASE("EndpointWantsEvent: the type itself or *") {
  CHECK(EndpointWantsEvent({"block.created", "block.lifted"}, "block.lifted"));
  CHECK_FALSE(EndpointWantsEvent({"block.created"}, "block.expired"));
  CHECK(EndpointWantsEvent({"*"}, "review.requested"));
  CHECK_FALSE(EndpointWantsEvent({}, "review.requested"));
}

}  // namespace policyd
