// Accounts (issue 19), the operations both front ends run:
//   policyctl account set ACCOUNT [--plan PLAN]   PUT /api/v1/admin/accounts/{account} {"plan"}
//   policyctl account show ACCOUNT                GET /api/v1/admin/accounts/{account}
// Input: {"account"} (set: and "plan", a plan of the config or "" for the default plan;
// absent keeps the stored plan). Result: {"account", "plan", "quota" (null = none), "domains"
// ({domain: state}), "created" (set only)}. One account.lua call each. policyctl adds the
// effective plan's limits.
#pragma once

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "ops/admin_call.h"

namespace policyd::ops {

Result<AdminCall> SetAccount(const Config& config, const nlohmann::json& input);
Result<AdminCall> ShowAccount(const Config& config, const nlohmann::json& input);

}  // namespace policyd::ops
