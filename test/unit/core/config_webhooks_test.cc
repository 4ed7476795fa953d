// [webhooks] and [[webhooks.endpoints]]: what parses, and the errors --check-config prints.
#include <doctest/doctest.h>

#include "config_test_util.h"
#include "core/config.h"

namespace policyd {
namespace {

using testing::Contains;
using testing::ErrorsOf;
using testing::ParseSnippet;

TEST_CASE("config: webhooks default to no endpoints and the 30s..4h schedule") {
  Result<Config> config = ParseSnippet("");
  REQUIRE_MESSAGE(config.ok(), config.error().message);
  CHECK(config->webhooks.endpoints.empty());
  CHECK(config->webhooks.RetryDelaysMs() ==
        std::vector<uint64_t>{30'000, 120'000, 600'000, 3'600'000, 14'400'000});
}

TEST_CASE("config: endpoints with url, secret and events; a shorter schedule") {
  Result<Config> config = ParseSnippet(R"([webhooks]
retry_delays = ["200ms", "1s"]
claim_after = "2s"
timeout = "2s"
[[webhooks.endpoints]]
name = "crm"
url = "http://127.0.0.1:8080/hook"
secret = "0123456789abcdef"
events = ["block.created", "block.lifted", "block.expired"]
[[webhooks.endpoints]]
name = "all"
url = "http://hooks.example/"
secret = "fedcba9876543210"
events = ["*"]
)");
  REQUIRE_MESSAGE(config.ok(), config.error().message);
  const WebhooksConfig& w = config->webhooks;
  REQUIRE(w.endpoints.size() == 2);
  CHECK(w.endpoints[0].name == "crm");
  CHECK(w.endpoints[0].url == "http://127.0.0.1:8080/hook");
  CHECK(w.endpoints[0].events.size() == 3);
  CHECK(w.endpoints[1].events == std::vector<std::string>{"*"});
  CHECK(w.RetryDelaysMs() == std::vector<uint64_t>{200, 1000});
  CHECK(w.claim_after_ms == 2000);
}

TEST_CASE("config: every endpoint mistake is reported with its index and field") {
  std::string errors = ErrorsOf(R"([[webhooks.endpoints]]
name = "Bad Name"
url = "https://hooks.example/"
secret = "short"
events = ["block.created", "block.exploded"]
colour = "red"
[[webhooks.endpoints]]
url = "http://x/"
)");
  CHECK(Contains(errors, "webhooks.endpoints[0].name: bad name"));
  CHECK(Contains(errors, "webhooks.endpoints[0].url: https:// is not supported"));
  CHECK(Contains(errors, "webhooks.endpoints[0].secret: too short"));
  CHECK(Contains(errors, "webhooks.endpoints[0].events: \"block.exploded\" is not an event type"));
  CHECK(Contains(errors, "webhooks.endpoints[0].colour: unknown key"));
  CHECK(Contains(errors, "webhooks.endpoints[1]: missing 'name'"));
  CHECK(Contains(errors, "webhooks.endpoints[1]: missing 'secret'"));
  CHECK(Contains(errors, "webhooks.endpoints[1]: missing 'events'"));
}

TEST_CASE("config: duplicate endpoint names, bad delays, endpoints not a list") {
  std::string endpoint = R"([[webhooks.endpoints]]
name = "a"
url = "http://x/"
secret = "0123456789abcdef"
events = ["*"]
)";
  CHECK(Contains(ErrorsOf(endpoint + endpoint), "'a' names two endpoints"));
  CHECK(Contains(ErrorsOf("[webhooks]\nretry_delays = [\"30s\", \"soon\"]\n"),
                 "webhooks.retry_delays: 'soon' is not a duration"));
  CHECK(Contains(ErrorsOf("[webhooks]\nendpoints = \"http://x/\"\n"),
                 "expected [[webhooks.endpoints]] tables"));
  CHECK(Contains(ErrorsOf("[webhooks]\nendpoint = 1\n"), "did you mean 'endpoints'"));
  // A slower attempt than claim_after would be taken over while still in flight.
  CHECK(Contains(ErrorsOf("[webhooks]\ntimeout = \"2m\"\n"),
                 "webhooks.timeout: \"2m\" is more than webhooks.claim_after = \"1m\""));
}

}  // namespace
}  // namespace policyd
