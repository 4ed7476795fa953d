#include "core/webhook_retry.h"

#include <fmt/format.h>

#include <charconv>

namespace policyd {

DeliveryOutcome ClassifyDeliveryStatus(int status) {
  if (status >= 200 && status < 300) return DeliveryOutcome::kDelivered;
  if (status >= 400 && status < 500 && status != 408 && status != 429) {
    return DeliveryOutcome::kFailed;
  }
  return DeliveryOutcome::kRetry;
}

std::optional<uint64_t> RetryDelay(const std::vector<uint64_t>& schedule_ms, int failed_attempts) {
  if (failed_attempts < 1 || static_cast<size_t>(failed_attempts) > schedule_ms.size()) {
    return std::nullopt;
  }
  return schedule_ms[failed_attempts - 1];
}

std::string FormatRetryState(const RetryState& state) {
  return fmt::format("{} {}", state.failed_attempts, state.next_at_ms);
}

std::optional<RetryState> ParseRetryState(std::string_view text) {
  size_t space = text.find(' ');
  if (space == std::string_view::npos) return std::nullopt;
  RetryState s;
  std::string_view a = text.substr(0, space), b = text.substr(space + 1);
  auto r1 = std::from_chars(a.data(), a.data() + a.size(), s.failed_attempts);
  auto r2 = std::from_chars(b.data(), b.data() + b.size(), s.next_at_ms);
  if (r1.ec != std::errc{} || r1.ptr != a.data() + a.size() || r2.ec != std::errc{} ||
      r2.ptr != b.data() + b.size() || s.failed_attempts < 0) {
    return std::nullopt;
  }
  return s;
}

}  // namespace policyd
