// What policyctl accepts before anything reaches Redis (issue 4: every bad value is refused
// by name, exit 2, nothing written), and the normal forms it stores.
#include "ops/admin_input.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "core/redis_keys.h"
#include "../text_contains.h"

namespace policyd::admin {
namespace {

template <typename T>
std::string ErrorOf(const Result<T>& r) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().code == ErrorCode::kInvalid);
  return r.error().message;
}

using testing::Contains;

}  // namespace

TEST_CASE("admin_input: domains are lower-cased without a trailing dot; bad ones are named") {
  CHECK(*CheckDomain("Example.COM.") == "example.com");
  CHECK(*CheckDomain("mail-1.example.co.uk") == "mail-1.example.co.uk");
  for (const char* bad : {"", "exa mple.com", "*.example.com", "example..com", ".com", "a@b.com",
                          "ex\nample.com"}) {
    CAPTURE(bad);
    std::string e = ErrorOf(CheckDomain(bad));
    CHECK(Contains(e, "domain '"));
  }
  CHECK(Contains(ErrorOf(CheckDomain("exa mple.com")), "'exa mple.com'"));
  CHECK(Contains(ErrorOf(CheckDomain("ex\nample.com")), "'ex\\x0aample.com'"));
  CHECK(*CheckGrantPattern("*.Example.com") == "*.example.com");
  CHECK(*CheckGrantPattern("example.com") == "example.com");
  CHECK(Contains(ErrorOf(CheckGrantPattern("*example.com")), "'*example.com'"));
}

TEST_CASE("admin_input: account names, user names, modes, reasons") {
  CHECK(*CheckAccountName("acme-2.eu_x") == "acme-2.eu_x");
  CHECK(Contains(ErrorOf(CheckAccountName("ac me")), "account 'ac me'"));
  CHECK(ErrorOf(CheckAccountName(std::string(65, 'a'))).size() > 0);
  CHECK(*CheckUserName("alice smith") == "alice smith");
  CHECK(Contains(ErrorOf(CheckUserName("")), "user ''"));
  for (const char* m : {"explicit", "account", "any"}) CHECK(*CheckMode(m) == m);
  CHECK(ErrorOf(CheckMode("sometimes")) == "mode 'sometimes': expected explicit, account or any");
  for (const char* r : {"spam", "abuse", "rate", "manual"}) CHECK(*CheckBlockReason(r) == r);
  CHECK(Contains(ErrorOf(CheckBlockReason("boredom")), "reason 'boredom'"));
}

TEST_CASE("admin_input: a plan must be defined in the configuration; \"\" means inherit") {
  Config c;
  c.path = "conf/x.toml";
  c.plans["default"] = Plan{"default", false, {}};
  c.plans["starter"] = Plan{"starter", false, {}};
  CHECK(*CheckPlan(c, "starter") == "starter");
  CHECK(*CheckPlan(c, "") == "");
  CHECK(ErrorOf(CheckPlan(c, "gold")) ==
        "plan 'gold' is not defined in conf/x.toml (plans: default, starter)");
}

TEST_CASE("admin_input: a TTL is a positive duration; negative or zero is refused by value") {
  CHECK(*CheckTtl("1h") == 3'600'000);
  CHECK(*CheckTtl("90") == 90'000);
  CHECK(Contains(ErrorOf(CheckTtl("-5m")), "'-5m'"));
  CHECK(Contains(ErrorOf(CheckTtl("0")), "'0': must be more than 0"));
  CHECK(Contains(ErrorOf(CheckTtl("soon")), "'soon'"));
  CHECK(CheckEvidence(std::string(1000, 'x')).ok());
  CHECK(Contains(ErrorOf(CheckEvidence(std::string(1001, 'x'))), "1001 bytes"));
}

TEST_CASE("admin_input: limit overrides become the user hash fields decide.lua reads") {
  Result<LimitOverride> o = ParseLimitOverride("user:messages:1h=100");
  REQUIRE(o.ok());
  CHECK(o->field == "limit:user:messages:3600");
  CHECK(o->max == 100);
  o = ParseLimitOverride("account:bytes:1d=2GiB");
  REQUIRE(o.ok());
  CHECK(o->field == "limit:account:bytes:86400");
  CHECK(o->max == 2ull << 30);
  CHECK(*ParseLimitField("ip:recipients:90s") == "limit:ip:recipients:90");
  CHECK(LimitFieldLabel("limit:ip:recipients:90") == "ip:recipients:90s");
  CHECK(LimitFieldLabel("limit:user:messages:3600") == "user:messages:1h");
  CHECK(LimitFieldLabel("account") == "");
  CHECK(Contains(ErrorOf(ParseLimitOverride("user:messages:1h")), "SUBJECT:METRIC:WINDOW=MAX"));
  CHECK(Contains(ErrorOf(ParseLimitOverride("domain:messages:1h=5")), "subject 'domain'"));
  CHECK(Contains(ErrorOf(ParseLimitOverride("user:mails:1h=5")), "metric 'mails'"));
  CHECK(Contains(ErrorOf(ParseLimitOverride("user:messages:500ms=5")), "window '500ms'"));
  CHECK(Contains(ErrorOf(ParseLimitOverride("user:messages:31d=5")), "window '31d'"));
  CHECK(Contains(ErrorOf(ParseLimitOverride("user:messages:1h=0")), "maximum '0'"));
  CHECK(Contains(ErrorOf(ParseLimitOverride("user:messages:1h=-3")), "maximum '-3'"));
}

TEST_CASE("admin_input: usage subjects map to the key tags decisions use") {
  Result<UsageSubject> s = ParseUsageSubject("user:alice smith");
  REQUIRE(s.ok());
  CHECK(s->kind == SubjectKind::kUser);
  CHECK(s->tag == "user:alice%20smith");
  s = ParseUsageSubject("sender:Bob@Example.com");
  REQUIRE(s.ok());
  CHECK(s->tag == "sender:bob@example.com");
  s = ParseUsageSubject("account:acme");
  REQUIRE(s.ok());
  CHECK(s->kind == SubjectKind::kAccount);
  CHECK(s->tag == "account:acme");
  s = ParseUsageSubject("ip:2001:db8::1");
  REQUIRE(s.ok());
  CHECK(s->tag == "ip:2001:db8::1");
  CHECK(Contains(ErrorOf(ParseUsageSubject("alice")), "subject 'alice'"));
  CHECK(Contains(ErrorOf(ParseUsageSubject("account:a b")), "account 'a b'"));
}

TEST_CASE("admin_input: an account's domain covers a grant when it or a parent matches") {
  CHECK(DomainAndParents("a.example.com") ==
        std::vector<std::string>{"a.example.com", "example.com", "com"});
  CHECK(DomainAndParents("com") == std::vector<std::string>{"com"});
  CHECK(*CheckReportId("0123456789abcdef0123") == "0123456789abcdef0123");
  CHECK(Contains(ErrorOf(CheckReportId("xyz")), "report id 'xyz'"));
  CHECK(*CheckCount("--limit", "5", 10) == 5);
  CHECK(Contains(ErrorOf(CheckCount("--limit", "0", 10)), "--limit '0'"));
}

TEST_CASE("admin_input: explain reads NAME=VALUE arguments and Postfix's own format") {
  ParserLimits limits;
  Result<PolicyRequest> r = ParseExplainArgs(
      {"protocol_state=RCPT", "sasl_username=alice", "sender=a@example.com", "x=a=b"}, limits);
  REQUIRE(r.ok());
  CHECK(r->Get("request") == "smtpd_access_policy");
  CHECK(r->State() == ProtocolState::kRcpt);
  CHECK(r->SaslUsername() == "alice");
  CHECK(r->Get("x") == "a=b");
  CHECK(Contains(ErrorOf(ParseExplainArgs({"protocol_state=RCPT", "oops"}, limits)), "'oops'"));
  CHECK(Contains(ErrorOf(ParseExplainArgs({"a=b\nc=d"}, limits)), "newline"));
  CHECK(Contains(ErrorOf(ParseExplainArgs({}, limits)), "no request"));

  std::string golden = std::string(POLICYD_GOLDEN_DIR) + "/end-of-message-sasl.req";
  std::ifstream f(golden, std::ios::binary);
  std::stringstream text;
  text << f.rdbuf();
  r = ParseExplainText("\n" + text.str() + "request=smtpd_access_policy\nignored=1\n\n", limits);
  REQUIRE(r.ok());
  CHECK(r->State() == ProtocolState::kEndOfMessage);
  CHECK_FALSE(r->Has("ignored"));  // one request: the first
  CHECK(Contains(ErrorOf(ParseExplainText("protocol_state=RCPT\nbroken line\n", limits)),
                 "line 2 'broken line'"));
  limits.max_line_bytes = 10;
  CHECK(Contains(ErrorOf(ParseExplainText("sender=" + std::string(20, 'x') + "\n", limits)),
                 "max_line_bytes"));
}

}  // namespace policyd::admin
