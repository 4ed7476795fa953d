// explain (issue 19): a policy request through decide.lua in explain mode (the same checks,
// no writes, no counting), the operation both front ends run:
//   policyctl explain NAME=VALUE... | < request.txt     POST /api/v1/admin/explain
// Input: {"request": {"protocol_state": "RCPT", "sasl_username": "alice", ...}} (attribute
// values as strings; checked with policyd's own parser and bounds). Result: {"reply" (the
// action text exactly as policyd would send it; a refusal without a report yet shows
// id=<new>&auth=<new>), "action", "rule", "report", "facts"}. One decide.lua call (none for
// requests policyd answers without Redis); on a Redis Cluster the same answer and facts from
// reads slot by slot (lib/store/cluster_explain.h), nothing written there either.
#pragma once

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/policy_request.h"
#include "ops/admin_call.h"

namespace policyd::ops {

Result<AdminCall> ExplainRequest(const Config& config, const nlohmann::json& input);
// The same for a request policyctl already parsed (from stdin).
AdminCall ExplainCall(const Config& config, const PolicyRequest& request);

}  // namespace policyd::ops
