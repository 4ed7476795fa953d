// The HTTP admin API's routes (issue 19): method, path template, the token scope it needs and
// the operation it runs. The one table both the server (lib/http/admin_api.cc) and its
// document (docs/openapi.yaml, checked both ways by test/integration/test_admin_api.py via
// GET /api/v1/admin/routes) follow. Pure.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/admin_tokens.h"
#include "core/config.h"
#include "ops/admin_call.h"

namespace policyd::ops {

inline constexpr std::string_view kAdminApiRoot = "/api/v1/admin/";
// Admin bodies are small JSON objects; the [http] max_body_bytes limit is for signal batches.
inline constexpr std::size_t kMaxAdminBodyBytes = 64 * 1024;

using AdminOp = Result<AdminCall> (*)(const Config& config, const nlohmann::json& input);

struct AdminRoute {
  std::string_view method;  // "GET", "PUT", ...
  std::string_view path;    // "/api/v1/admin/users/{user}/ip-allow-list"
  AdminScope scope;         // kRead or kWrite
  AdminOp op;               // nullptr: served by the HTTP face itself (the route list)
};

const std::vector<AdminRoute>& AdminRoutes();

struct AdminRouteMatch {
  const AdminRoute* route = nullptr;  // null: no route with this method
  bool path_known = false;            // some method serves this path (405 rather than 404)
  nlohmann::json params = nlohmann::json::object();  // {"user": "alice@example.com"}
};
// Path parameters are percent-decoded ("%40" -> "@"; "+" stays "+") and never empty.
AdminRouteMatch MatchAdminRoute(std::string_view method, std::string_view path);

// The table as JSON for GET /api/v1/admin/routes: [{"method", "path", "scope"}].
nlohmann::json AdminRoutesJson();

}  // namespace policyd::ops
