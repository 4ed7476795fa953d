// What a delivery attempt's status means, the backoff schedule, and the retry state's text.
#include "core/webhook_retry.h"

#include <doctest/doctest.h>

namespace policyd {

TEST_CASE("ClassifyDeliveryStatus: 2xx done, 4xx final except 408/429, the rest retried") {
  for (int s : {200, 201, 202, 204, 299})
    CHECK(ClassifyDeliveryStatus(s) == DeliveryOutcome::kDelivered);
  for (int s : {400, 401, 403, 404, 410, 422, 499}) {
    CHECK(ClassifyDeliveryStatus(s) == DeliveryOutcome::kFailed);
  }
  for (int s : {0, 301, 408, 429, 500, 502, 503, 504}) {
    CHECK(ClassifyDeliveryStatus(s) == DeliveryOutcome::kRetry);
  }
}

TEST_CASE("RetryDelay follows the schedule and ends after its last delay") {
  const std::vector<uint64_t> schedule = {30'000, 120'000, 600'000, 3'600'000, 14'400'000};
  CHECK(RetryDelay(schedule, 1) == 30'000u);
  CHECK(RetryDelay(schedule, 2) == 120'000u);
  CHECK(RetryDelay(schedule, 5) == 14'400'000u);
  CHECK_FALSE(RetryDelay(schedule, 6).has_value());
  CHECK_FALSE(RetryDelay(schedule, 0).has_value());
  CHECK_FALSE(RetryDelay({}, 1).has_value());  // no retries at all
}

TEST_CASE("RetryState round-trips through its text; malformed text reads as none") {
  RetryState s{3, 1700000000123};
  CHECK(FormatRetryState(s) == "3 1700000000123");
  auto back = ParseRetryState(FormatRetryState(s));
  REQUIRE(back.has_value());
  CHECK(back->failed_attempts == 3);
  CHECK(back->next_at_ms == 1700000000123u);
  for (std::string_view bad : {"", "3", "3 ", " 3", "x 1", "3 1x", "-1 5", "3 1 2"}) {
    CHECK_MESSAGE(!ParseRetryState(bad).has_value(), bad);
  }
}

}  // namespace policyd
