// usage (issue 19): the limits that apply to a subject and where each sliding window stands,
// the operation both front ends run:
//   policyctl usage SUBJECT [--plan P] [--sender A] [--ip A]
//   GET /api/v1/admin/usage/{subject}?plan=&sender=&ip=
// Input: {"subject": "user:NAME" | "account:NAME" | "sender:ADDRESS" | "ip:ADDRESS", "plan",
// "sender", "ip" (the last two with a user only)}. Result: {"subject", "plan", "account",
// "limits": [{"subject", "counter", "metric", "window_s", "max", "count" (null: no counter
// given), "retry_after_s", "override"}]}; a user's request is checked against all four kinds,
// other subjects show their own kind. One usage.lua call (decide.lua's window code, read-only).
// kNotFound for an unknown user or account. The monthly quota: quota_ops.h.
#pragma once

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "ops/admin_call.h"

namespace policyd::ops {

Result<AdminCall> ShowUsage(const Config& config, const nlohmann::json& input);

}  // namespace policyd::ops
