// Billing-period quotas (issue 19): a per-user and a per-account message quota per calendar
// month, beside the sliding windows. Pure: the [quota] settings checked and turned into the
// compact spec decide.lua reads (_common.lua quota_period, quota_check).
//
// The month is a calendar month in [quota] time_zone: "UTC" or a fixed offset from UTC
// ("+02:00", "-05:30"). Zones with daylight saving time are given as the offset the operator
// bills by; the period boundary moves with that offset only. decide.lua computes the period
// from the decision's clock (Redis TIME, or the injected clock of tests), so every instance
// agrees on it whatever its own clock says.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace policyd {

// "UTC", "Z", "+HH:MM" or "-HH:MM" (up to 14:00) -> minutes east of UTC.
Result<int> ParseUtcOffset(std::string_view text);

// ["80%", "90%", "100%"] -> {80, 90, 100}: each 1%..100%, sorted, no duplicates, at most 10.
Result<std::vector<int>> ParseWarnAt(const std::vector<std::string>& entries);

// What decide.lua reads: "OFFSET_MIN|reject|80,90,100" (or "|defer|").
std::string QuotaSpec(int offset_min, bool defer, const std::vector<int>& warn_percents);

}  // namespace policyd
