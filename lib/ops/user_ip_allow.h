// A user's client IP allow-list (issue 19), the operations both front ends run:
//   policyctl user ip-allow USER [CIDR ...] [--clear]
//   GET/PUT /api/v1/admin/users/{user}/ip-allow-list
// Input: {"user": NAME, "ip_allow": ["203.0.113.0/24", "2001:db8::/64"]} (set; [] clears);
// {"user": NAME} (show). Result: {"user": NAME, "ip_allow": [...]} in canonical form, [] =
// any address. Writes run user_ip_allow.lua (both user fields at once, only for a user that
// exists: otherwise kNotFound).
#pragma once

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "ops/admin_call.h"

namespace policyd::ops {

Result<AdminCall> SetIpAllowList(const Config& config, const nlohmann::json& input);
Result<AdminCall> ShowIpAllowList(const Config& config, const nlohmann::json& input);

}  // namespace policyd::ops
