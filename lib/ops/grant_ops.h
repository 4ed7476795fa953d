// Grants of domains to SMTP users (issue 19), the operations both front ends run:
//   policyctl grant USER DOMAIN    PUT    /api/v1/admin/users/{user}/grants/{domain}
//   policyctl revoke USER DOMAIN   DELETE /api/v1/admin/users/{user}/grants/{domain}
// Input: {"user", "domain"} (a domain or "*.domain"). Results: grant {"user", "domain",
// "account", "granted": true, "covering_domain", "covering_state", "mode"} (what policyctl's
// notes need: an unverified domain, a mode that ignores grants); revoke {"user", "domain",
// "revoked": true}. One grant.lua call each; kNotFound's message says what is missing:
// "user", "account" (the user has none), "domain:ACCOUNT" (the account lacks it), "grant".
#pragma once

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "ops/admin_call.h"

namespace policyd::ops {

Result<AdminCall> GrantDomain(const Config& config, const nlohmann::json& input);
Result<AdminCall> RevokeDomain(const Config& config, const nlohmann::json& input);

}  // namespace policyd::ops
