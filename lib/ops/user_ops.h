// SMTP users (issue 19), the read both front ends share:
//   GET /api/v1/admin/users/{user}     (policyctl user show prints the same record, plus the
//                                       effective plan's limits)
// Input: {"user": NAME}. Result: {"user", "account", "plan", "mode", "overrides"
// ({"user:messages:1h": "100"}), "grants" (sorted), "ip_allow", "quota" (null = none)}.
// One call: user_show.lua.
#pragma once

#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "ops/admin_call.h"

namespace policyd::ops {

Result<AdminCall> ShowUser(const Config& config, const nlohmann::json& input);

// policyctl user set USER ...    PUT /api/v1/admin/users/{user}
// Input: {"user", "account", "plan", "mode", "limits": {"user:messages:1h": 100 | "2GiB"},
// "unset_limits": ["user:messages:1h"]}: only given fields change; a new user needs
// "account" (an existing account) and gets mode explicit unless "mode" says otherwise.
// Result: {"user", "created"}. kNotFound "account" for an unknown account.
Result<AdminCall> SetUser(const Config& config, const nlohmann::json& input);
// policyctl user del USER        DELETE /api/v1/admin/users/{user}   (with its grants)
// Result: {"user", "deleted": true}; kNotFound "user".
Result<AdminCall> DeleteUser(const Config& config, const nlohmann::json& input);

// The record as both front ends print it, from the user hash and its grants.
nlohmann::json UserRecordJson(const std::string& user,
                              const std::map<std::string, std::string>& fields,
                              std::vector<std::string> grants);

}  // namespace policyd::ops
