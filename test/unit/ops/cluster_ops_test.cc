// The admin operations' Redis Cluster shapes (issue 17), without Redis: each call's route key
// is in the slot of every key it touches, and an operation whose keys live in two slots is a
// chain of calls, each in one slot, whose replies build the next call.
#include <doctest/doctest.h>

#include "core/cluster_slot.h"
#include "core/config.h"
#include "core/report_slot.h"
#include "ops/account_ops.h"
#include "ops/block_ops.h"
#include "ops/cluster_cursor.h"
#include "ops/explain_ops.h"
#include "ops/grant_ops.h"
#include "ops/usage_ops.h"
#include "ops/user_ops.h"

namespace policyd::ops {
namespace {

using nlohmann::json;

Config OneRedis() {
  Config c;
  c.plans["starter"] = Plan{"starter", false, {}};
  c.policy.default_plan = "starter";
  return c;
}

Config Cluster() {
  Config c = OneRedis();
  c.redis.cluster = {"127.0.0.1:7000"};
  return c;
}

RedisValue Str(std::string s) {
  RedisValue v;
  v.type = RedisValue::Type::kString;
  v.str = std::move(s);
  return v;
}

RedisValue Int(int64_t n) {
  RedisValue v;
  v.type = RedisValue::Type::kInteger;
  v.integer = n;
  return v;
}

RedisValue Array(std::vector<RedisValue> elements) {
  RedisValue v;
  v.type = RedisValue::Type::kArray;
  v.elements = std::move(elements);
  return v;
}

RedisValue Nil() { return RedisValue{}; }

TEST_CASE("cluster: single-slot operations name the key whose slot they run in") {
  Config c = Cluster();
  CHECK(SetAccount(c, {{"account", "acme"}})->route_key == "pd:account:{account:acme}");
  CHECK(ShowUser(c, {{"user", "alice"}})->route_key == "pd:user:{user:alice}");
  CHECK(DeleteUser(c, {{"user", "alice"}})->route_key == "pd:user:{user:alice}");
  CHECK(ShowBlock(c, {{"subject", "user:alice"}})->route_key == "pd:block:{user:alice}");
  CHECK(RevokeDomain(c, {{"user", "alice"}, {"domain", "example.com"}})->route_key ==
        "pd:user:{user:alice}");
  // Every key of a route key's call shares its hash tag, so its slot.
  CHECK(KeySlot("pd:account:{account:acme}") == KeySlot("pd:domains:{account:acme}"));
}

TEST_CASE("cluster: a block's report id and its event's home are in the subject's slot") {
  Result<AdminCall> one = AddBlock(OneRedis(), {{"subject", "user:alice"}, {"reason", "spam"}},
                                   "policyctl");
  CHECK(one->argv.at(6).size() == 20);  // an unslotted id
  CHECK(one->argv.at(11) == "");        // the relay's one outbox
  Result<AdminCall> call = AddBlock(Cluster(), {{"subject", "user:alice"}, {"reason", "spam"}},
                                    "policyctl");
  REQUIRE(call.ok());
  CHECK(call->route_key == "pd:block:{user:alice}");
  std::string_view home = SubjectSlotTag("user:alice");
  CHECK(call->argv.at(11) == home);
  CHECK(ReportIdSlotTag(call->argv.at(6)) == home);
  CHECK(KeySlot("pd:" + ReportKeyName(call->argv.at(6))) == KeySlot(call->route_key));
  Result<AdminCall> lift = LiftBlock(Cluster(), {{"subject", "user:alice"}}, "api");
  CHECK(lift->argv.back() == home);
}

TEST_CASE("cluster: user set with an account reads the account in its slot first") {
  json input = {{"user", "alice"}, {"account", "acme"}};
  Result<AdminCall> one = SetUser(OneRedis(), input);
  CHECK(one->script == "user_set");
  CHECK(one->argv.at(4) == "");  // user_set.lua checks the account itself
  Result<AdminCall> first = SetUser(Cluster(), input);
  REQUIRE(first.ok());
  CHECK(first->argv == std::vector<std::string>{"EXISTS", "pd:account:{account:acme}"});
  Result<AdminCall> write = first->then(Int(1));
  REQUIRE(write.ok());
  CHECK(write->script == "user_set");
  CHECK(write->route_key == "pd:user:{user:alice}");
  CHECK(write->argv.at(4) == "1");
  Result<AdminCall> missing = first->then(Int(0));
  CHECK(missing.error().code == ErrorCode::kNotFound);
  CHECK(missing.error().message == "account");
  // Without an account nothing is in another slot: one call.
  CHECK(SetUser(Cluster(), {{"user", "alice"}, {"mode", "any"}})->script == "user_set");
}

TEST_CASE("cluster: grant reads the user's account, then its domains, then writes") {
  json input = {{"user", "alice"}, {"domain", "*.mail.example.com"}};
  Result<AdminCall> one = GrantDomain(OneRedis(), input);
  CHECK(one->script == "grant");
  CHECK(std::vector<std::string>(one->argv.begin() + 7, one->argv.end()) ==
        std::vector<std::string>{"mail.example.com", "example.com", "com"});
  Result<AdminCall> user = GrantDomain(Cluster(), input);
  REQUIRE(user.ok());
  CHECK(user->argv == std::vector<std::string>{"HMGET", "pd:user:{user:alice}", "account",
                                               "mode"});
  CHECK(user->then(Array({Nil(), Nil()})).error().message == "user");
  CHECK(user->then(Array({Nil(), Str("explicit")})).error().message == "account");
  Result<AdminCall> domains = user->then(Array({Str("acme"), Str("explicit")}));
  REQUIRE(domains.ok());
  CHECK(domains->argv == std::vector<std::string>{"HMGET", "pd:domains:{account:acme}",
                                                  "mail.example.com", "example.com", "com"});
  CHECK(domains->then(Array({Nil(), Nil(), Nil()})).error().message == "domain:acme");
  Result<AdminCall> grant = domains->then(Array({Nil(), Str("verified"), Nil()}));
  REQUIRE(grant.ok());
  CHECK(grant->script == "grant");
  CHECK(grant->route_key == "pd:user:{user:alice}");
  CHECK(std::vector<std::string>(grant->argv.begin() + 4, grant->argv.end()) ==
        std::vector<std::string>{"acme", "example.com", "verified"});
}

TEST_CASE("cluster: a user's usage is read slot by slot and filled in") {
  Config c = Cluster();
  json input = {{"subject", "user:alice"}, {"ip", "192.0.2.7"}};
  CHECK(ShowUsage(OneRedis(), input)->script == "usage");
  Result<AdminCall> account = ShowUsage(c, input);
  REQUIRE(account.ok());
  CHECK(account->argv == std::vector<std::string>{"HGET", "pd:user:{user:alice}", "account"});
  Result<AdminCall> plan = account->then(Str("acme"));
  REQUIRE(plan.ok());
  CHECK(plan->argv ==
        std::vector<std::string>{"HGET", "pd:account:{account:acme}", "plan"});
  Result<AdminCall> usage = plan->then(Str("starter"));
  REQUIRE(usage.ok());
  CHECK(usage->script == "usage");
  CHECK(usage->route_key == "pd:rate:{user:alice}");
  CHECK(usage->argv.at(10) == "=starter");
  CHECK(usage->argv.at(11) == "user");
  auto limit = [](std::string kind, std::string tag, int64_t count) {
    return Array({Str(kind), Str(tag), Str("messages"), Str("100"), Str("3600"),
                  Str(std::to_string(count)), Str(count < 0 ? "-1" : "0"), Int(0)});
  };
  RedisValue reply = Array({Int(1), Str("starter"), Str(""), Str("acme"),
                            limit("user", "user:alice", 2), limit("account", "account:acme", -1),
                            limit("ip", "ip:192.0.2.7", -1)});
  Result<AdminCall> ip = usage->then(reply);
  REQUIRE(ip.ok());
  CHECK(ip->script == "usage_windows");
  CHECK(ip->route_key == "pd:rate:{ip:192.0.2.7}");
  CHECK(std::vector<std::string>(ip->argv.begin() + 3, ip->argv.end()) ==
        std::vector<std::string>{"ip:192.0.2.7", "messages", "3600", "100"});
  Result<AdminCall> acct = ip->then(Array({Array({Str("5"), Str("0")})}));
  REQUIRE(acct.ok());
  CHECK(acct->route_key == "pd:rate:{account:acme}");
  Result<AdminCall> last = acct->then(Array({Array({Str("7"), Str("0")})}));
  REQUIRE(last.ok());
  REQUIRE(last->run);
  std::optional<Result<json>> out;
  last->run(AdminBackend(nullptr), 0, [&out](Result<json> r) { out = std::move(r); });
  REQUIRE(out->ok());
  json j = **out;
  CHECK(j["limits"][0]["count"] == 2);
  CHECK(j["limits"][1]["count"] == 7);
  CHECK(j["limits"][2]["count"] == 5);
  // A subject other than a user lives in one slot: one usage.lua call there.
  Result<AdminCall> own = ShowUsage(c, {{"subject", "account:acme"}});
  CHECK(own->script == "usage");
  CHECK(own->route_key == "pd:rate:{account:acme}");
}

TEST_CASE("cluster: a block list cursor names a primary and its SCAN cursor") {
  ClusterCursor start = *ParseClusterCursor("0");
  CHECK((start.scan == 0 && start.primary == 0));
  CHECK(*NextClusterCursor(0, 0, 3) == "1");      // primary 0 done: primary 1 from 0
  CHECK(*NextClusterCursor(0, 2, 3) == "0");      // the last primary done: the walk ended
  CHECK(*NextClusterCursor(40, 0, 3) == "40000");
  CHECK(*NextClusterCursor(40, 2, 3) == "40002");
  ClusterCursor mid = *ParseClusterCursor("40002");
  CHECK((mid.scan == 40 && mid.primary == 2));
  CHECK_FALSE(ParseClusterCursor("18446744073709551616"));  // past 64 bits
  CHECK_FALSE(ParseClusterCursor("1x"));
  CHECK_FALSE(NextClusterCursor(UINT64_MAX / 1000, 999, 1000));
  CHECK(ParseClusterCursor(*NextClusterCursor(UINT64_MAX / 1000 - 1, 999, 1000))->primary == 999);
}

TEST_CASE("cluster: block list runs a page on a primary; explain runs itself") {
  CHECK(ListBlocks(Cluster(), json::object())->script.empty());
  CHECK(ListBlocks(Cluster(), {{"cursor", "40002"}})->run);
  CHECK(ListBlocks(Cluster(), {{"cursor", "99999999999999999999"}}).error().code ==
        ErrorCode::kInvalid);
  CHECK(ListBlocks(OneRedis(), {{"cursor", "17"}})->script == "block_list");
  // explain reads slot by slot (lib/store/cluster_explain.h), not as one script call; a
  // request policyd answers without Redis stays the call that needs none.
  json rcpt = {{"request", {{"protocol_state", "RCPT"}, {"sasl_username", "alice"},
                            {"sender", "alice@example.com"}}}};
  Result<AdminCall> explain = ExplainRequest(Cluster(), rcpt);
  REQUIRE(explain.ok());
  CHECK(explain->run);
  CHECK(explain->script.empty());
  CHECK(ExplainRequest(OneRedis(), rcpt)->script == "decide");
  Result<AdminCall> local =
      ExplainRequest(Cluster(), {{"request", {{"protocol_state", "CONNECT"}}}});
  REQUIRE(local.ok());
  CHECK_FALSE(local->run);
  CHECK(local->argv == std::vector<std::string>{"PING"});
}

}  // namespace
}  // namespace policyd::ops
