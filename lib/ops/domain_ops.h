// An account's domains (issue 19), the operations both front ends run:
//   policyctl domain add ACCOUNT DOMAIN [--verified]   PUT    .../{account}/domains/{domain}
//   policyctl domain verify ACCOUNT DOMAIN             POST   .../domains/{domain}/verify
//   policyctl domain del ACCOUNT DOMAIN                DELETE .../domains/{domain}
//   policyctl domain list ACCOUNT                      GET    .../accounts/{account}/domains
// (paths under /api/v1/admin). Input: {"account", "domain"} (add: and "verified": bool).
// Results: {"account", "domain", "state"} (add, verify), {"account", "domain", "deleted":
// true}, {"account", "domains": [{"domain", "state"}]} (list, sorted). Every call is one
// domain.lua call; an unknown account or domain is kNotFound with the message "account" or
// "domain" (each front end words its own hint).
#pragma once

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "ops/admin_call.h"

namespace policyd::ops {

Result<AdminCall> AddDomain(const Config& config, const nlohmann::json& input);
Result<AdminCall> VerifyDomain(const Config& config, const nlohmann::json& input);
Result<AdminCall> DeleteDomain(const Config& config, const nlohmann::json& input);
Result<AdminCall> ListDomains(const Config& config, const nlohmann::json& input);

}  // namespace policyd::ops
