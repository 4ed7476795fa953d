// The RCPT pre-check without a script (issue 16): which keys and fields policyd reads for a
// cached pass, and when the replies show room. Anything it cannot prove is left to decide.lua.
#include "core/rcpt_precheck.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/decide_args.h"

namespace policyd {
namespace {

// A request as the pre-check sees it (ReadDecideSubjects), the config and mode it is decided
// under.
struct Request {
  DecideSubjects subjects;
  Config config;
  DecideMode mode = DecideMode::kDecide;
};

Request Args(std::string subject, std::string sender_tag, std::string stage = "rcpt",
             std::string count_at = "eom", uint64_t size = 0) {
  Request r;
  r.config.redis.key_prefix = "pd:";
  r.config.policy.count_at = count_at == "eom" ? CountAt::kEndOfMessage : CountAt::kRcpt;
  r.subjects.state = stage == "eom" ? ProtocolState::kEndOfMessage : ProtocolState::kRcpt;
  r.subjects.subject = std::move(subject);
  r.subjects.sender_tag = std::move(sender_tag);
  r.subjects.domain = "example.com";
  r.subjects.ip_tag = "ip:192.0.2.9";
  r.subjects.size = size;
  return r;
}

std::optional<RcptPrecheck> Plan(const AccessFacts& facts, const Request& r) {
  return PlanRcptPrecheck(facts, r.subjects, r.config, r.mode);
}

AccessFacts Pass(std::string limits, std::string account = "acme") {
  std::optional<AccessFacts> f = ParseAccessFacts({"pass", limits, account, "", "", "0"});
  REQUIRE(f);
  return *f;
}

TEST_CASE("rcpt pre-check: the block keys read_block checks, one HMGET per subject") {
  AccessFacts f = Pass(
      "user:messages:3600:100,user:recipients:3600:500,sender:messages:60:10,"
      "account:recipients:86400:1000,ip:bytes:60:5000,user:messages:60:5");
  std::optional<RcptPrecheck> p = Plan(f, Args("user:alice", "sender:a@example.com"));
  REQUIRE(p);
  CHECK(p->exists == std::vector<std::string>{"EXISTS", "pd:block:{user:alice}",
                                              "pd:block:{sender:a@example.com}"});
  // bytes cost the request's size: 0 here, so the ip limit reads nothing.
  REQUIRE(p->reads.size() == 3);
  CHECK(p->reads[0] == std::vector<std::string>{"HMGET", "pd:rate:{user:alice}",
                                                "messages:3600:total", "recipients:3600:total",
                                                "messages:60:total"});
  CHECK(p->reads[1] ==
        std::vector<std::string>{"HMGET", "pd:rate:{sender:a@example.com}", "messages:60:total"});
  CHECK(p->reads[2] ==
        std::vector<std::string>{"HMGET", "pd:rate:{account:acme}", "recipients:86400:total"});
  REQUIRE(p->checks.size() == 5);
  CHECK(p->checks[4].read == 0);
  CHECK(p->checks[4].field == 2);
  CHECK(p->checks[4].max == 5);
}

TEST_CASE("rcpt pre-check: an unauthenticated sender is user and sender, each window read once") {
  AccessFacts f = Pass("user:messages:3600:100,sender:messages:3600:50,ip:bytes:60:5000", "");
  std::optional<RcptPrecheck> p =
      Plan(f, Args("sender:a@example.com", "sender:a@example.com", "rcpt", "eom", 2000));
  REQUIRE(p);
  CHECK(p->exists == std::vector<std::string>{"EXISTS", "pd:block:{sender:a@example.com}"});
  REQUIRE(p->reads.size() == 2);
  CHECK(p->reads[0] ==
        std::vector<std::string>{"HMGET", "pd:rate:{sender:a@example.com}", "messages:3600:total"});
  CHECK(p->reads[1] ==
        std::vector<std::string>{"HMGET", "pd:rate:{ip:192.0.2.9}", "bytes:60:total"});
  REQUIRE(p->checks.size() == 3);  // both limits checked against the one window
  CHECK(p->checks[0].field == p->checks[1].field);
  CHECK(p->checks[2].cost == 2000);
  // 49 counted: room under 50 and 100; 50 counted: none under 50.
  CHECK(PrecheckHasRoom(*p, 0, {{std::string("49")}, {std::string("3000")}}));
  CHECK_FALSE(PrecheckHasRoom(*p, 0, {{std::string("50")}, {std::string("3000")}}));
  CHECK_FALSE(PrecheckHasRoom(*p, 0, {{std::string("49")}, {std::string("3001")}}));
}

TEST_CASE("rcpt pre-check: no null sender, account or unknown subject window is read") {
  AccessFacts f = Pass("sender:messages:60:1,account:messages:60:1,host:messages:60:1,"
                       "user:widgets:60:1", "");
  std::optional<RcptPrecheck> p = Plan(f, Args("user:bob", ""));
  REQUIRE(p);
  CHECK(p->exists == std::vector<std::string>{"EXISTS", "pd:block:{user:bob}"});
  CHECK(p->reads.empty());
  CHECK(PrecheckHasRoom(*p, 0, {}));
  CHECK(PrecheckPassVerdict(*p).rule == "pre-check within limits");
  CHECK(PrecheckPassVerdict(*p).action == Action::kDunno);
  CHECK(PrecheckPassVerdict(*p).domain == "example.com");
}

TEST_CASE("rcpt pre-check: only a RCPT with count_at = eom, decide mode, a pass, no quota") {
  AccessFacts f = Pass("user:messages:3600:100");
  CHECK(Plan(f, Args("user:a", "sender:a@x", "rcpt", "eom")));
  CHECK_FALSE(Plan(f, Args("user:a", "sender:a@x", "eom", "eom")));
  CHECK_FALSE(Plan(f, Args("user:a", "sender:a@x", "rcpt", "rcpt")));
  Request explain = Args("user:a", "sender:a@x");
  explain.mode = DecideMode::kExplain;
  CHECK_FALSE(Plan(f, explain));
  AccessFacts quota = f;
  quota.user_quota = "500";
  CHECK_FALSE(Plan(quota, Args("user:a", "sender:a@x")));
  quota = f;
  quota.account_quota = "10000";
  CHECK_FALSE(Plan(quota, Args("user:a", "sender:a@x")));
  CHECK_FALSE(Plan(AccessFacts{}, Args("user:a", "sender:a@x")));  // 'full'
}

TEST_CASE("rcpt pre-check: room only when no block key exists and every total has room") {
  AccessFacts f = Pass("user:messages:3600:10,user:recipients:3600:20");
  std::optional<RcptPrecheck> p = Plan(f, Args("user:a", "sender:a@x"));
  REQUIRE(p);
  using S = std::optional<std::string>;
  CHECK(PrecheckHasRoom(*p, 0, {{S(), S()}}));  // nothing counted yet
  CHECK(PrecheckHasRoom(*p, 0, {{S("9"), S("19")}}));
  CHECK_FALSE(PrecheckHasRoom(*p, 1, {{S("9"), S("19")}}));  // a block key: the script looks
  CHECK_FALSE(PrecheckHasRoom(*p, 0, {{S("10"), S("19")}}));
  CHECK_FALSE(PrecheckHasRoom(*p, 0, {{S("9"), S("20")}}));
  CHECK_FALSE(PrecheckHasRoom(*p, 0, {{S("x"), S("1")}}));  // not a number: the script
  CHECK_FALSE(PrecheckHasRoom(*p, 0, {{S(""), S("1")}}));
  CHECK_FALSE(PrecheckHasRoom(*p, 0, {{S("1")}}));           // a short reply
  CHECK_FALSE(PrecheckHasRoom(*p, 0, {}));
}

}  // namespace
}  // namespace policyd
