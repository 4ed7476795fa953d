// Blocks of users and sender addresses (issue 19), the operations both front ends run:
//   policyctl block add SUBJECT --reason R [--ttl D] [--evidence T]
//                                              PUT    /api/v1/admin/blocks/{subject}
//   policyctl block show SUBJECT               GET    /api/v1/admin/blocks/{subject}
//   policyctl block del SUBJECT                DELETE /api/v1/admin/blocks/{subject}
//   policyctl block list [--reason R]          GET    /api/v1/admin/blocks?cursor=&count=&reason=
// Input: {"subject": "user:NAME" | "sender:ADDRESS"} (add: and "reason", "ttl" ("1h"; absent:
// until lifted), "evidence"). Results: add {"subject", "reason", "evidence", "expires",
// "report", "report_url"}; show: the block hash's fields, "report_url", "history" (the
// escalation history hash) and "evidence_entries" (newest first, parsed JSON); lift
// {"subject", "deleted": true, "reason"}. One script call each: block_add.lua, block_show.lua,
// block_lift.lua (which emits block.lifted in the same call). source: who acts, as the
// block's and the event's "source" ("policyctl" or "api").
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "ops/admin_call.h"

namespace policyd::ops {

Result<AdminCall> AddBlock(const Config& config, const nlohmann::json& input,
                           const std::string& source);
Result<AdminCall> ShowBlock(const Config& config, const nlohmann::json& input);
// One page: input {"cursor": "0" (start), "count": "100" (1-1000, a hint as SCAN's), "reason"}
// (strings: they come from a query string); result {"blocks": [block hash...], "next_cursor"
// ("0": no more)}. A page may be empty while next_cursor is not "0". On a Redis Cluster a page
// is one SCAN on one primary and the cursor names which (ops/cluster_cursor.h).
Result<AdminCall> ListBlocks(const Config& config, const nlohmann::json& input);
Result<AdminCall> LiftBlock(const Config& config, const nlohmann::json& input,
                            const std::string& source);

// The route table's forms (source "api").
Result<AdminCall> AddBlockApi(const Config& config, const nlohmann::json& input);
Result<AdminCall> LiftBlockApi(const Config& config, const nlohmann::json& input);

}  // namespace policyd::ops
