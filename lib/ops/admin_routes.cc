#include "ops/admin_routes.h"

#include "ops/account_ops.h"
#include "ops/block_ops.h"
#include "ops/domain_ops.h"
#include "ops/explain_ops.h"
#include "ops/grant_ops.h"
#include "ops/quota_ops.h"
#include "ops/review_ops.h"
#include "ops/usage_ops.h"
#include "ops/user_ip_allow.h"
#include "ops/user_ops.h"

namespace policyd::ops {
namespace {

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// A path segment: %XX decoded, nothing else. nullopt for a bad escape.
std::optional<std::string> DecodeSegment(std::string_view s) {
  std::string out;
  for (std::size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    if (i + 2 >= s.size()) return std::nullopt;
    int hi = HexDigit(s[i + 1]), lo = HexDigit(s[i + 2]);
    if (hi < 0 || lo < 0) return std::nullopt;
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

std::vector<std::string_view> Segments(std::string_view path) {
  std::vector<std::string_view> out;
  std::size_t pos = 0;
  while (pos <= path.size()) {
    auto slash = path.find('/', pos);
    if (slash == std::string_view::npos) slash = path.size();
    out.push_back(path.substr(pos, slash - pos));
    pos = slash + 1;
  }
  return out;
}

// Whether path fits the template; its parameters into *params.
bool Fits(std::string_view templ, std::string_view path, nlohmann::json* params) {
  std::vector<std::string_view> t = Segments(templ), p = Segments(path);
  if (t.size() != p.size()) return false;
  nlohmann::json found = nlohmann::json::object();
  for (std::size_t i = 0; i < t.size(); ++i) {
    if (t[i].size() > 2 && t[i].front() == '{' && t[i].back() == '}') {
      std::optional<std::string> value = DecodeSegment(p[i]);
      if (!value || value->empty()) return false;
      found[std::string(t[i].substr(1, t[i].size() - 2))] = *value;
    } else if (t[i] != p[i]) {
      return false;
    }
  }
  *params = std::move(found);
  return true;
}

}  // namespace

const std::vector<AdminRoute>& AdminRoutes() {
  static const std::vector<AdminRoute> routes = {
      {"GET", "/api/v1/admin/routes", AdminScope::kRead, nullptr},
      // Writes nothing: a read token may call it.
      {"POST", "/api/v1/admin/explain", AdminScope::kRead, ExplainRequest},
      {"GET", "/api/v1/admin/reviews", AdminScope::kRead, ListReviews},
      {"POST", "/api/v1/admin/reviews/{id}/resolve", AdminScope::kWrite, ResolveReviewApi},
      {"GET", "/api/v1/admin/usage/{subject}", AdminScope::kRead, ShowUsage},
      {"GET", "/api/v1/admin/users/{user}", AdminScope::kRead, ShowUser},
      {"PUT", "/api/v1/admin/users/{user}", AdminScope::kWrite, SetUser},
      {"DELETE", "/api/v1/admin/users/{user}", AdminScope::kWrite, DeleteUser},
      {"GET", "/api/v1/admin/users/{user}/ip-allow-list", AdminScope::kRead, ShowIpAllowList},
      {"PUT", "/api/v1/admin/users/{user}/ip-allow-list", AdminScope::kWrite, SetIpAllowList},
      {"PUT", "/api/v1/admin/users/{user}/grants/{domain}", AdminScope::kWrite, GrantDomain},
      {"DELETE", "/api/v1/admin/users/{user}/grants/{domain}", AdminScope::kWrite, RevokeDomain},
      {"GET", "/api/v1/admin/users/{user}/quota", AdminScope::kRead, ShowQuota},
      {"PUT", "/api/v1/admin/users/{user}/quota", AdminScope::kWrite, SetQuota},
      {"POST", "/api/v1/admin/users/{user}/quota/unlock", AdminScope::kWrite, UnlockQuota},
      {"GET", "/api/v1/admin/blocks", AdminScope::kRead, ListBlocks},
      {"GET", "/api/v1/admin/blocks/{subject}", AdminScope::kRead, ShowBlock},
      {"PUT", "/api/v1/admin/blocks/{subject}", AdminScope::kWrite, AddBlockApi},
      {"DELETE", "/api/v1/admin/blocks/{subject}", AdminScope::kWrite, LiftBlockApi},
      {"GET", "/api/v1/admin/accounts/{account}", AdminScope::kRead, ShowAccount},
      {"PUT", "/api/v1/admin/accounts/{account}", AdminScope::kWrite, SetAccount},
      {"GET", "/api/v1/admin/accounts/{account}/domains", AdminScope::kRead, ListDomains},
      {"PUT", "/api/v1/admin/accounts/{account}/domains/{domain}", AdminScope::kWrite, AddDomain},
      {"DELETE", "/api/v1/admin/accounts/{account}/domains/{domain}", AdminScope::kWrite,
       DeleteDomain},
      {"POST", "/api/v1/admin/accounts/{account}/domains/{domain}/verify", AdminScope::kWrite,
       VerifyDomain},
      {"GET", "/api/v1/admin/accounts/{account}/quota", AdminScope::kRead, ShowQuota},
      {"PUT", "/api/v1/admin/accounts/{account}/quota", AdminScope::kWrite, SetQuota},
      {"POST", "/api/v1/admin/accounts/{account}/quota/unlock", AdminScope::kWrite, UnlockQuota},
  };
  return routes;
}

AdminRouteMatch MatchAdminRoute(std::string_view method, std::string_view path) {
  AdminRouteMatch m;
  for (const AdminRoute& r : AdminRoutes()) {
    nlohmann::json params;
    if (!Fits(r.path, path, &params)) continue;
    m.path_known = true;
    if (r.method == method) {
      m.route = &r;
      m.params = std::move(params);
      return m;
    }
  }
  return m;
}

nlohmann::json AdminRoutesJson() {
  nlohmann::json out = nlohmann::json::array();
  for (const AdminRoute& r : AdminRoutes()) {
    out.push_back({{"method", r.method},
                   {"path", r.path},
                   {"scope", r.scope == AdminScope::kWrite ? "write" : "read"}});
  }
  return out;
}

}  // namespace policyd::ops
