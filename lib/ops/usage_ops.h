// usage (issue 19): the limits that apply to a subject and where each sliding window stands,
// the operation both front ends run:
//   policyctl usage SUBJECT [--plan P] [--sender A] [--ip A]
//   GET /api/v1/admin/usage/{subject}?plan=&sender=&ip=
// Input: {"subject": "user:NAME" | "account:NAME" | "sender:ADDRESS" | "ip:ADDRESS", "plan",
// "sender", "ip" (the last two with a user only)}. Result: {"subject", "plan", "account",
// "limits": [{"subject", "counter", "metric", "window_s", "max", "count" (null: no counter
// given), "retry_after_s", "override"}]}; a user's request is checked against all four kinds,
// other subjects show their own kind. One usage.lua call (decide.lua's window code, read-only);
// on a Redis Cluster a user's usage is a chain of reads, each in one slot (UsageCall).
// kNotFound for an unknown user or account. The monthly quota: quota_ops.h.
#pragma once

#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "ops/admin_call.h"

namespace policyd::ops {

Result<AdminCall> ShowUsage(const Config& config, const nlohmann::json& input);

// The subject tags a request would carry ("" = not given); a user tag brings in its account.
struct UsageTags {
  std::string user;
  std::string account;
  std::string sender;
  std::string ip;
};

// The read behind usage (and policyctl's user show and account show): usage.lua's reply
// ({ known, plan, unknown plan, account, { kind, tag, metric, max, window_s, count,
// retry_after_s, override }... }) goes to `result`. On one Redis, or for a subject other than
// a user, one usage.lua call in the subject's slot. On a cluster a user's is a chain: the
// user's account (user's slot), that account's plan (account's slot), usage.lua in the user's
// slot told the plan, counting the user's windows, then usage_windows.lua for each other
// subject with a tag (account, sender, ip), in its own slot, filling in its counts. Not one
// atomic read there: counts of different subjects come from moments a round trip apart.
AdminCall UsageCall(const Config& config, const UsageTags& tags, const std::string& plan,
                    std::function<Result<nlohmann::json>(const RedisValue&)> result);

}  // namespace policyd::ops
