// usage.lua from C++ (ops::UsageCall, also on a Redis Cluster): the limits that apply to a
// subject under the same plan resolution as decide.lua, and where each sliding window stands
// now. Read-only. Used by usage, and by
// user show and account show for the plan decisions use and its limits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "policyctl/admin_session.h"
#include "core/result.h"
#include "ops/usage_ops.h"

namespace policyd::admin {

// The subject tags a request would carry ("" = not given). A user tag brings in its account.
using UsageTags = ops::UsageTags;

struct LimitState {
  std::string kind;    // user, sender, account, ip
  std::string tag;     // the counter's subject tag; "" when not given (count unknown)
  std::string metric;  // messages, recipients, bytes
  uint64_t max = 0;
  uint64_t window_s = 0;
  int64_t count = -1;        // units in the window now; -1 without a tag
  int64_t retry_after = -1;  // seconds until one more unit fits (0 = now); -1 without a tag
  bool override = false;     // from the user's limit:... field, not the plan
};

struct UsageData {
  bool known = true;         // false: the user or account does not exist
  std::string plan;          // the plan decisions use
  std::string unknown_plan;  // a stored plan name the configuration lacks ("" if none)
  std::string account;       // the user's or the subject's account ("" if none)
  std::vector<LimitState> limits;
};

// plan: "" = the subject's own (a user's or account's), else that plan's limits.
Result<UsageData> ReadUsage(AdminSession& session, const UsageTags& tags, const std::string& plan);

}  // namespace policyd::admin
