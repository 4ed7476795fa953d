// Monthly quotas (issue 19), the operations both front ends run:
//   policyctl quota show SUBJECT      GET  /api/v1/admin/users/{user}/quota (accounts/{account})
//   policyctl quota set SUBJECT MAX   PUT  /api/v1/admin/users/{user}/quota {"quota": N|null}
//   policyctl quota unlock SUBJECT    POST /api/v1/admin/users/{user}/quota/unlock (accounts/...)
// Input: {"user": NAME} or {"account": NAME} (set: and "quota", messages per month, null
// removes it). Result: {"subject", "period" ("2026-11"),
// "quota" (null = none), "used", "unlocked", "locked" (used up and not unlocked),
// "resets_at" (ms), "warned" ([80, 90])}. Both run quota.lua (one call; unlock is atomic).
#pragma once

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "ops/admin_call.h"

namespace policyd::ops {

Result<AdminCall> ShowQuota(const Config& config, const nlohmann::json& input);
Result<AdminCall> SetQuota(const Config& config, const nlohmann::json& input);
Result<AdminCall> UnlockQuota(const Config& config, const nlohmann::json& input);

}  // namespace policyd::ops
