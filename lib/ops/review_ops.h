// Review requests (issue 19), the operations both front ends run:
//   policyctl review list [--limit N]          GET  /api/v1/admin/reviews?limit=N
//   policyctl review resolve ID --note TEXT    POST /api/v1/admin/reviews/{id}/resolve {"note"}
// List input {"limit": "100"} (a string: it comes from a query string; 1-10000); result
// {"reviews": [{"id", "requested", "kind", "subject", "reason", "text", "url"}]}, newest request
// first, only those not resolved yet. Resolve input {"id", "note"} (note: 1-1000 bytes,
// shown to the customer on the report page); result {"id", "review": "resolved", "note",
// "resolved_at"}; kNotFound for an unknown report, kConflict when no review is waiting. One
// script call each (review_list.lua, review_resolve.lua).
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/config.h"
#include "core/report_page.h"
#include "ops/admin_call.h"

namespace policyd::ops {

Result<AdminCall> ListReviews(const Config& config, const nlohmann::json& input);
// The list's result from its reports (newest request first), each with its page's URL
// ([report] base_url, secret): {"reviews": [...]}. On one Redis ListReviews's call reads them
// (review_list.lua); on a cluster ReportStore::ListReviews does (issue 17).
nlohmann::json ReviewsJson(const std::vector<Report>& reports, const std::string& base_url,
                           const std::string& secret);
Result<AdminCall> ResolveReview(const Config& config, const nlohmann::json& input,
                                const std::string& source);
Result<AdminCall> ResolveReviewApi(const Config& config, const nlohmann::json& input);

}  // namespace policyd::ops
