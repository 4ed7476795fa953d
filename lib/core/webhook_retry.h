// What happens after a webhook delivery attempt (issue 20): a 2xx is delivered; a 4xx other
// than 408 and 429 is final (the receiver refuses this event; sending it again changes
// nothing); anything else (5xx, 408, 429, 3xx, no answer, a timeout) is retried after the
// next delay of the schedule ([webhooks] retry_delays, default 30s 2m 10m 1h 4h), and fails
// for good once the schedule is used up.
//
// The retry state of a pending event lives in Redis (docs/redis-keys.md, PREFIXwebhook:NAME),
// so that the instance that claims a dead instance's events continues its schedule.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace policyd {

enum class DeliveryOutcome { kDelivered, kRetry, kFailed };

// status 0: no HTTP answer (connect error, timeout, malformed response).
DeliveryOutcome ClassifyDeliveryStatus(int status);

// The delay before the next attempt after `failed_attempts` (>= 1) failed attempts, or
// nullopt when the schedule is used up (the event fails for good).
std::optional<uint64_t> RetryDelay(const std::vector<uint64_t>& schedule_ms, int failed_attempts);

// A pending event's progress: how many attempts failed, and not before when to try again.
struct RetryState {
  int failed_attempts = 0;
  uint64_t next_at_ms = 0;
};

// "3 1700000000000" <-> RetryState; a malformed text reads as nullopt (start over).
std::string FormatRetryState(const RetryState& state);
std::optional<RetryState> ParseRetryState(std::string_view text);

}  // namespace policyd
