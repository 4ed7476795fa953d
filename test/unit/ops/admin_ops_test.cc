// The pure parts of the admin operations (lib/ops): input checks, error JSON, route matching
// and the IP allow-list operations' Redis calls, without Redis.
#include <doctest/doctest.h>

#include "core/config.h"
#include "ops/admin_routes.h"
#include "ops/op_input.h"
#include "ops/user_ip_allow.h"

namespace policyd::ops {
namespace {

using nlohmann::json;

TEST_CASE("bodies: bounded, JSON, an object") {
  CHECK(ParseInputBody("", 100)->is_object());
  CHECK(ParseInputBody("{\"a\":1}", 100).ok());
  CHECK(ParseInputBody(std::string(101, ' '), 100).error().code == ErrorCode::kTooLarge);
  CHECK(ErrorJson(ParseInputBody("{", 100).error())["error"]["field"] == "body");
  CHECK(ErrorJson(ParseInputBody("[]", 100).error())["error"]["field"] == "body");
  CHECK(HttpStatusOf(ErrorCode::kTooLarge) == 413);
  CHECK(HttpStatusOf(ErrorCode::kConflict) == 409);
  CHECK(HttpStatusOf(ErrorCode::kNotFound) == 404);
  CHECK(HttpStatusOf(ErrorCode::kInvalid) == 400);
}

TEST_CASE("fields: unknown names and wrong types are named") {
  Status unknown = CheckFields(json{{"ip_allow", json::array()}, {"ip_alow", 1}},
                               {"user", "ip_allow"});
  REQUIRE_FALSE(unknown.ok());
  json e = ErrorJson(unknown.error())["error"];
  CHECK(e["code"] == "invalid");
  CHECK(e["field"] == "ip_alow");
  CHECK(e["message"].get<std::string>().find("known: user, ip_allow") != std::string::npos);
  // A hostile field name is not echoed as the field.
  CHECK(ErrorJson(CheckFields(json{{"<x>", 1}}, {"a"}).error())["error"]["field"] == "body");
  CHECK(ErrorJson(StringField(json{{"user", 5}}, "user", true).error())["error"]["message"] ==
        "expected a string, got a number");
  CHECK(ErrorJson(StringField(json::object(), "user", true).error())["error"]["message"] ==
        "required");
  CHECK_FALSE(StringField(json::object(), "user", false)->has_value());
  auto arr = StringArrayField(json{{"a", {"x", 1}}}, "a", true, 10);
  CHECK(ErrorJson(arr.error())["error"]["message"] == "entry 2: expected a string, got a number");
  CHECK_FALSE(StringArrayField(json{{"a", {"x", "y"}}}, "a", true, 1).ok());
}

TEST_CASE("plan field: absent, \"\" (inherit), a defined plan; others are named") {
  Config c;
  c.path = "conf/x.toml";
  c.plans["starter"] = Plan{"starter", false, {}};
  CHECK_FALSE(PlanField(c, json::object())->has_value());
  CHECK(**PlanField(c, json{{"plan", ""}}) == "");
  CHECK(**PlanField(c, json{{"plan", "starter"}}) == "starter");
  json gold = ErrorJson(PlanField(c, json{{"plan", "gold"}}).error())["error"];
  CHECK(gold["field"] == "plan");
  CHECK(gold["message"] == "plan 'gold' is not defined in conf/x.toml (plans: starter)");
  CHECK(ErrorJson(PlanField(c, json{{"plan", 3}}).error())["error"]["message"] ==
        "expected a string, got a number");
}

TEST_CASE("routes: templates, decoded parameters, 404 versus 405") {
  AdminRouteMatch m =
      MatchAdminRoute("PUT", "/api/v1/admin/users/alice%40example.com/ip-allow-list");
  REQUIRE(m.route);
  CHECK(m.route->scope == AdminScope::kWrite);
  CHECK(m.params == json{{"user", "alice@example.com"}});
  CHECK(MatchAdminRoute("PUT", "/api/v1/admin/users/a+b/ip-allow-list").params["user"] == "a+b");
  AdminRouteMatch wrong_method = MatchAdminRoute("DELETE", "/api/v1/admin/users/a/ip-allow-list");
  CHECK_FALSE(wrong_method.route);
  CHECK(wrong_method.path_known);
  for (const char* path : {"/api/v1/admin/users//ip-allow-list",
                           "/api/v1/admin/users/a%4/ip-allow-list",
                           "/api/v1/admin/users/a/ip-allow-list/x", "/api/v1/admin/nothing"}) {
    CAPTURE(path);
    AdminRouteMatch none = MatchAdminRoute("GET", path);
    CHECK_FALSE(none.route);
    CHECK_FALSE(none.path_known);
  }
  CHECK(AdminRoutesJson().size() == AdminRoutes().size());
}

TEST_CASE("ip allow-list operations: validated before any Redis call, one call each") {
  Config config;
  config.redis.key_prefix = "pd:";
  Result<AdminCall> set = SetIpAllowList(
      config, json{{"user", "alice"}, {"ip_allow", {"2001:DB8::/64", "203.0.113.0/24"}}});
  REQUIRE(set.ok());
  CHECK(set->script == "user_ip_allow");
  CHECK(set->argv ==
        std::vector<std::string>{
            "pd:", "user:alice", "2001:db8::/64,203.0.113.0/24",
            "20010db8000000000000000000000000/64,00000000000000000000ffffcb007100/120"});
  RedisValue ok{RedisValue::Type::kArray, 0, "", {}};
  ok.elements = {{RedisValue::Type::kString, 0, "ok", {}},
                 {RedisValue::Type::kString, 0, "203.0.113.0/24", {}}};
  CHECK(*set->result(ok) == json{{"user", "alice"}, {"ip_allow", {"203.0.113.0/24"}}});
  RedisValue missing = ok;
  missing.elements[0].str = "notfound";
  CHECK(set->result(missing).error().code == ErrorCode::kNotFound);

  auto field_of = [&](const json& input) {
    Result<AdminCall> r = SetIpAllowList(config, input);
    REQUIRE_FALSE(r.ok());
    return ErrorJson(r.error())["error"].value("field", "");
  };
  CHECK(field_of(json{{"user", "alice"}, {"ip_allow", {"bogus"}}}) == "ip_allow");
  CHECK(field_of(json{{"user", ""}, {"ip_allow", json::array()}}) == "user");
  CHECK(field_of(json{{"user", "alice"}}) == "ip_allow");

  Result<AdminCall> show = ShowIpAllowList(config, json{{"user", "alice"}});
  REQUIRE(show.ok());
  CHECK(show->script.empty());
  CHECK(show->argv[0] == "HMGET");
  CHECK(show->argv[1] == "pd:user:{user:alice}");
}

}  // namespace
}  // namespace policyd::ops
