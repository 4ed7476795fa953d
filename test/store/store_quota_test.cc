// Issue 19: monthly quotas and the IP allow-list in decide.lua against a real redis-server,
// with an injected clock: exactly Q messages a month, warnings once per level and period
// (event, evidence), the reset at the month boundary in UTC and at a fixed offset, unlock
// admitting past 100 %, and an RCPT pre-check refusing a quota-locked user early.
#include <doctest/doctest.h>

#include "redis_server.h"

namespace policyd::test {
namespace {

// 2026-11-30 23:00:00 UTC: one hour before December in UTC, already December at +02:00.
constexpr uint64_t kLateNovember = 1'796'079'600'000;
constexpr uint64_t kHour = 3600 * 1000;

PolicyRequest Eom(const std::string& user, int n) {
  return MakeRequest({{"protocol_state", "END-OF-MESSAGE"},
                      {"sasl_username", user},
                      {"sender", user + "@example.com"},
                      {"recipient", "r@dest.example"},
                      {"recipient_count", "1"},
                      {"size", "100"},
                      {"client_address", "192.0.2.10"},
                      {"client_port", std::to_string(10000 + n)},
                      {"instance", "q" + std::to_string(n)}});
}

PolicyRequest Rcpt(const std::string& user, const std::string& client) {
  return MakeRequest({{"protocol_state", "RCPT"},
                      {"sasl_username", user},
                      {"sender", user + "@example.com"},
                      {"recipient", "r@dest.example"},
                      {"client_address", client},
                      {"client_port", "4000"},
                      {"instance", "r1"}});
}

void Customer(RedisServer& redis, const std::string& user) {
  redis.Cmd({"HSET", "pd:account:{account:acme}", "plan", ""});
  redis.Cmd({"HSET", "pd:domains:{account:acme}", "example.com", "verified"});
  redis.Cmd({"HSET", "pd:user:{user:" + user + "}", "account", "acme", "mode", "account"});
}

int Events(RedisServer& redis, const std::string& type) {
  int n = 0;
  std::vector<std::string> flat = redis.Cmd({"XRANGE", "pd:events", "-", "+"});
  for (const std::string& s : flat) n += s == type;
  return n;
}

}  // namespace

TEST_CASE("quota: exactly Q messages a month, each warning once, reset at the month boundary") {
  RedisServer redis;
  StoreHarness store(redis.port(), TestConfig());
  Customer(redis, "alice");
  redis.Cmd({"HSET", "pd:user:{user:alice}", "quota", "10"});
  int admitted = 0, n = 0;
  std::vector<std::string> warnings;
  for (int i = 0; i < 15; ++i) {
    Verdict v = store.Decide(Eom("alice", ++n), kLateNovember + i);
    if (v.action == Action::kDunno) ++admitted;
    if (!v.quota_warnings.empty()) warnings.push_back(v.quota_warnings);
    if (i >= 10) {
      CHECK(v.action == Action::kQuotaExceeded);
      CHECK(v.count == 10);
      CHECK(v.max == 10);
      CHECK(FormatVerdict(v, store.config()) ==
            "550 5.7.1 [QUOTA] Monthly message quota used up: 10/10; it renews next month");
    }
  }
  CHECK(admitted == 10);
  CHECK(warnings == std::vector<std::string>{"user:alice 80", "user:alice 90", "user:alice 100"});
  CHECK(Events(redis, "quota.warning") == 3);
  CHECK(redis.CmdOne({"HGET", "pd:quota:{user:alice}:202611", "used"}) == "10");
  std::vector<std::string> evidence = redis.Cmd({"LRANGE", "pd:evidence:{user:alice}", "0", "-1"});
  REQUIRE(evidence.size() == 3);
  // (cjson writes '/' as "\/".)
  CHECK(evidence[0].find("100% of the monthly quota: 10") != std::string::npos);
  CHECK(evidence[0].find("10 messages in 202611") != std::string::npos);
  CHECK(evidence[0].find("\"kind\":\"quota\"") != std::string::npos);
  // A quota-locked user is refused at RCPT already (read-only pre-check).
  CHECK(store.Decide(Rcpt("alice", "192.0.2.10"), kLateNovember + 100).action ==
        Action::kQuotaExceeded);

  SUBCASE("the injected clock crosses into December: a new period, counted from zero") {
    Verdict v = store.Decide(Eom("alice", ++n), kLateNovember + kHour);
    CHECK(v.action == Action::kDunno);
    CHECK(redis.CmdOne({"HGET", "pd:quota:{user:alice}:202612", "used"}) == "1");
    CHECK(std::stoll(redis.CmdOne({"PTTL", "pd:quota:{user:alice}:202611"})) > 0);
  }
  SUBCASE("unlock admits past 100 % for the rest of the period, and still counts") {
    redis.Cmd({"HSET", "pd:quota:{user:alice}:202611", "unlocked", "1"});
    for (int i = 0; i < 3; ++i) {
      CHECK(store.Decide(Eom("alice", ++n), kLateNovember + 200 + i).action == Action::kDunno);
    }
    CHECK(redis.CmdOne({"HGET", "pd:quota:{user:alice}:202611", "used"}) == "13");
    CHECK(Events(redis, "quota.warning") == 3);  // no level fires twice
    // December is locked again only once its own quota is used up.
    CHECK(store.Decide(Eom("alice", ++n), kLateNovember + kHour).action == Action::kDunno);
  }
  SUBCASE("explain shows the quota and writes nothing") {
    Verdict v = store.Decide(Eom("alice", 999), kLateNovember + 300, true);
    CHECK(v.action == Action::kQuotaExceeded);
    CHECK(v.facts.find("\"quota\":[{") != std::string::npos);
    CHECK(redis.CmdOne({"HGET", "pd:quota:{user:alice}:202611", "used"}) == "10");
  }
}

TEST_CASE("quota: an account's quota counts all its users; a fixed offset moves the boundary") {
  RedisServer redis;
  Config c = TestConfig();
  c.quota.time_zone = "+02:00";
  c.quota.exhausted = QuotaExhausted::kDefer;
  StoreHarness store(redis.port(), c);
  Customer(redis, "alice");
  Customer(redis, "bob");
  redis.Cmd({"HSET", "pd:account:{account:acme}", "quota", "3"});
  CHECK(store.Decide(Eom("alice", 1), kLateNovember).action == Action::kDunno);
  CHECK(store.Decide(Eom("bob", 2), kLateNovember).action == Action::kDunno);
  CHECK(store.Decide(Eom("alice", 3), kLateNovember).action == Action::kDunno);
  Verdict v = store.Decide(Eom("bob", 4), kLateNovember);
  CHECK(v.action == Action::kQuotaExceeded);
  CHECK(store.Reply(Eom("bob", 5), kLateNovember).rfind("452 4.7.1 [QUOTA]", 0) == 0);
  // 23:00 UTC on November 30 is already December 1 at +02:00.
  CHECK(redis.CmdOne({"HGET", "pd:quota:{account:acme}:202612", "used"}) == "3");
  // Users without a quota (and accounts without one) are not touched.
  redis.Cmd({"HDEL", "pd:account:{account:acme}", "quota"});
  CHECK(store.Decide(Eom("bob", 6), kLateNovember).action == Action::kDunno);
  CHECK(redis.Keys().size() > 0);
}

TEST_CASE("ip allow-list: the issue's networks, IPv4-mapped clients, an empty list") {
  RedisServer redis;
  StoreHarness store(redis.port(), TestConfig());
  Customer(redis, "alice");
  CHECK(store.Decide(Rcpt("alice", "198.51.100.7"), kLateNovember).action == Action::kDunno);
  // What lib/ops/user_ip_allow.cc writes for ["203.0.113.0/24", "2001:db8::/64"].
  redis.Cmd({"HSET", "pd:user:{user:alice}", "ip_allow", "203.0.113.0/24,2001:db8::/64",
             "ip_allow_match",
             "00000000000000000000ffffcb007100/120,20010db8000000000000000000000000/64"});
  Verdict refused = store.Decide(Rcpt("alice", "198.51.100.7"), kLateNovember);
  CHECK(refused.action == Action::kIpRefused);
  CHECK(refused.report_id.size() == 20);
  CHECK(redis.CmdOne({"HGET", "pd:report:" + refused.report_id, "kind"}) == "ip");
  // One report per user and client address.
  CHECK(store.Decide(Rcpt("alice", "198.51.100.7"), kLateNovember + 1).report_id ==
        refused.report_id);
  for (const char* ok : {"203.0.113.9", "2001:db8::5", "::ffff:203.0.113.9"}) {
    CAPTURE(ok);
    CHECK(store.Decide(Rcpt("alice", ok), kLateNovember).action == Action::kDunno);
  }
  for (const char* bad : {"::ffff:198.51.100.7", "2001:db8:1::5", "unknown", ""}) {
    CAPTURE(bad);
    CHECK(store.Decide(Rcpt("alice", bad), kLateNovember).action == Action::kIpRefused);
  }
  redis.Cmd({"HDEL", "pd:user:{user:alice}", "ip_allow", "ip_allow_match"});
  CHECK(store.Decide(Rcpt("alice", "198.51.100.7"), kLateNovember).action == Action::kDunno);
}

}  // namespace policyd::test
