// Issue 3, acceptance 1: the ACL over every mode x grant x verification x plan case, at RCPT
// and END-OF-MESSAGE, against decide.lua in a real redis-server.
#include <doctest/doctest.h>

#include "redis_server.h"

namespace policyd::test {
namespace {

constexpr uint64_t kNow = 1'800'000'000'000;

PolicyRequest Req(const std::string& stage, const std::string& user, const std::string& sender,
                  const std::string& instance = "i-1") {
  return MakeRequest({{"protocol_state", stage},
                      {"sasl_username", user},
                      {"sender", sender},
                      {"recipient", "rcpt@dest.example"},
                      {"recipient_count", stage == "RCPT" ? "0" : "1"},
                      {"client_address", "192.0.2.10"},
                      {"client_port", "40000"},
                      {"instance", instance},
                      {"size", "1000"}});
}

Config AclConfig() {
  Config c = TestConfig();
  c.plans["anyplan"] = Plan{"anyplan", true, {}};
  c.plans["plain"] = Plan{"plain", false, {}};
  return c;
}

}  // namespace

TEST_CASE("acl: every mode x grant x verification x plan x domain, at RCPT and END-OF-MESSAGE") {
  RedisServer redis;
  StoreHarness store(redis.port(), AclConfig());
  const char* modes[] = {"explicit", "account", "any"};
  const char* grants[] = {"", "example.com", "*.example.com"};
  const char* domains[] = {"example.com", "sub.example.com", "other.org"};
  int cases = 0;
  for (const char* mode : modes) {
    for (const char* grant : grants) {
      for (bool verified : {false, true}) {
        for (const char* plan : {"plain", "anyplan"}) {
          redis.FlushAll();
          redis.Cmd({"HSET", "pd:user:{user:alice}", "account", "acme", "mode", mode, "plan",
                     plan});
          redis.Cmd({"HSET", "pd:domains:{account:acme}", "example.com",
                     verified ? "verified" : "unverified"});
          if (*grant) redis.Cmd({"SADD", "pd:grants:{user:alice}", grant});
          for (const char* domain : domains) {
            std::string d = domain;
            bool is_verified = verified && d != "other.org";
            bool granted = (std::string(grant) == "example.com" && d == "example.com") ||
                           (std::string(grant) == "*.example.com" && d != "other.org");
            std::string effective = mode;
            if (effective == "any" && std::string(plan) != "anyplan") effective = "account";
            bool allowed = effective == "any" || (effective == "account" && is_verified) ||
                           (effective == "explicit" && is_verified && granted);
            for (const char* stage : {"RCPT", "END-OF-MESSAGE"}) {
              CAPTURE(mode);
              CAPTURE(grant);
              CAPTURE(verified);
              CAPTURE(plan);
              CAPTURE(domain);
              CAPTURE(stage);
              Verdict v = store.Decide(Req(stage, "alice", "Someone@" + d, "i-" +
                                           std::to_string(++cases)), kNow);
              CHECK(v.action == (allowed ? Action::kDunno : Action::kAclReject));
              if (!allowed) {
                CHECK(v.report_id.size() == 20);
                std::string reply = FormatVerdict(v, store.config());
                CHECK(reply.rfind("550 [ACL] Blocked. See https://policy.example.test/report?id=",
                                  0) == 0);
              }
            }
          }
        }
      }
    }
  }
  CHECK(cases == 3 * 3 * 2 * 2 * 3 * 2);
}

TEST_CASE("acl: upper-case sender domains match lower-case grants") {
  RedisServer redis;
  StoreHarness store(redis.port(), AclConfig());
  redis.Cmd({"HSET", "pd:user:{user:alice}", "account", "acme"});
  redis.Cmd({"HSET", "pd:domains:{account:acme}", "example.com", "verified"});
  redis.Cmd({"SADD", "pd:grants:{user:alice}", "example.com"});
  CHECK(store.Decide(Req("RCPT", "alice", "Bob@EXAMPLE.COM"), kNow).action == Action::kDunno);
  CHECK(store.Decide(Req("RCPT", "alice", "bob@Example.Com."), kNow).action == Action::kDunno);
  CHECK(store.Decide(Req("RCPT", "alice", "bob@EXAMPLE.ORG"), kNow).action == Action::kAclReject);
}

TEST_CASE("acl: the null sender skips the ACL") {
  RedisServer redis;
  StoreHarness store(redis.port(), AclConfig());
  redis.Cmd({"HSET", "pd:user:{user:alice}", "account", "acme"});
  for (const char* stage : {"RCPT", "END-OF-MESSAGE"}) {
    CHECK(store.Decide(Req(stage, "alice", ""), kNow).action == Action::kDunno);
  }
  CHECK(store.Decide(Req("RCPT", "alice", "x@example.com"), kNow).action == Action::kAclReject);
}

TEST_CASE("acl: a sender without a domain is refused") {
  RedisServer redis;
  StoreHarness store(redis.port(), AclConfig());
  redis.Cmd({"HSET", "pd:user:{user:alice}", "account", "acme", "mode", "account"});
  redis.Cmd({"HSET", "pd:domains:{account:acme}", "example.com", "verified"});
  CHECK(store.Decide(Req("RCPT", "alice", "postmaster"), kNow).action == Action::kAclReject);
  CHECK(store.Decide(Req("RCPT", "alice", "x@bad domain"), kNow).action == Action::kAclReject);
}

TEST_CASE("acl: ACL reports are deduplicated per user and domain for an hour") {
  RedisServer redis;
  StoreHarness store(redis.port(), AclConfig());
  redis.Cmd({"HSET", "pd:user:{user:alice}", "account", "acme"});
  Verdict a = store.Decide(Req("RCPT", "alice", "x@example.com"), kNow);
  Verdict b = store.Decide(Req("RCPT", "alice", "y@example.com", "i-2"), kNow);
  Verdict c = store.Decide(Req("RCPT", "alice", "y@other.org", "i-3"), kNow);
  CHECK(a.report_id == b.report_id);
  CHECK(a.report_id != c.report_id);
  auto report = redis.Cmd({"HGETALL", "pd:report:" + a.report_id});
  CHECK(std::find(report.begin(), report.end(), "acl") != report.end());
  CHECK(std::find(report.begin(), report.end(), "user:alice") != report.end());
  CHECK(std::stoll(redis.CmdOne({"PTTL", "pd:aclrep:{user:alice}:example.com"})) > 3500 * 1000);
}

TEST_CASE("acl: unknown SMTP users follow [policy] unknown_user") {
  RedisServer redis;
  Config c = AclConfig();
  SUBCASE("dunno") {
    c.policy.unknown_user = "dunno";
    StoreHarness store(redis.port(), c);
    CHECK(store.Decide(Req("RCPT", "ghost", "x@example.com"), kNow).action == Action::kDunno);
  }
  SUBCASE("reject") {
    c.policy.unknown_user = "reject";
    StoreHarness store(redis.port(), c);
    Verdict v = store.Decide(Req("RCPT", "ghost", "x@example.com"), kNow);
    CHECK(v.action == Action::kAclReject);
    CHECK(v.rule.find("unknown SMTP user") != std::string::npos);
  }
  SUBCASE("a plan name: account mode with no domains, so refused unless null sender") {
    c.policy.unknown_user = "plain";
    StoreHarness store(redis.port(), c);
    CHECK(store.Decide(Req("RCPT", "ghost", "x@example.com"), kNow).action == Action::kAclReject);
    CHECK(store.Decide(Req("RCPT", "ghost", ""), kNow).action == Action::kDunno);
  }
}

TEST_CASE("acl: stages other than RCPT and END-OF-MESSAGE get DUNNO without Redis") {
  RedisServer redis;
  StoreHarness store(redis.port(), AclConfig());
  CHECK(store.Decide(Req("DATA", "alice", "x@example.com"), kNow).action == Action::kDunno);
  CHECK(redis.Keys().empty());
}

}  // namespace policyd::test
