#include "core/quota.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/admin_tokens.h"
#include "core/cluster_quota.h"

namespace policyd {
namespace {

TEST_CASE("quota: [quota] time_zone is UTC or a fixed offset") {
  CHECK(*ParseUtcOffset("UTC") == 0);
  CHECK(*ParseUtcOffset("Z") == 0);
  CHECK(*ParseUtcOffset("+02:00") == 120);
  CHECK(*ParseUtcOffset("-05:30") == -330);
  CHECK(*ParseUtcOffset("+14:00") == 840);
  for (const char* bad : {"", "utc", "Europe/Berlin", "+2:00", "+02:60", "+14:01", "02:00",
                          "+02-00", "+0200"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseUtcOffset(bad).ok());
  }
}

TEST_CASE("quota: [quota] warn_at levels are sorted percentages without duplicates") {
  CHECK(*ParseWarnAt({"100%", "80%", "90%", "80%"}) == std::vector<int>{80, 90, 100});
  CHECK(ParseWarnAt({})->empty());
  for (const char* bad : {"0%", "101%", "80", "0.8", "%", "8x%"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseWarnAt({bad}).ok());
  }
  std::vector<std::string> eleven;
  for (int i = 1; i <= 11; ++i) eleven.push_back(std::to_string(i) + "%");
  CHECK_FALSE(ParseWarnAt(eleven).ok());
  CHECK(QuotaSpec(-330, true, {80, 100}) == "-330|defer|80,100");
  CHECK(QuotaSpec(0, false, {}) == "0|reject|");
}

TEST_CASE("admin tokens: scopes, well-formed entries, constant-time match") {
  std::vector<std::string> tokens = {"read:read-token-0123456789", "write:write-token-0123456789"};
  CHECK(CheckAdminTokenEntries(tokens) == "");
  CHECK(AdminScopeOf("Bearer read-token-0123456789", tokens) == AdminScope::kRead);
  CHECK(AdminScopeOf("Bearer write-token-0123456789", tokens) == AdminScope::kWrite);
  CHECK(AdminScopeOf("Bearer write-token-012345678", tokens) == AdminScope::kNone);
  CHECK(AdminScopeOf("bearer write-token-0123456789", tokens) == AdminScope::kNone);
  CHECK(AdminScopeOf("", tokens) == AdminScope::kNone);
  CHECK(AdminScopeOf("Bearer ", {}) == AdminScope::kNone);
  CHECK(CheckAdminTokenEntries({"admin:0123456789abcdef"}).find("entry 1") == 0);
  CHECK(CheckAdminTokenEntries({"read:short"}).find("16+") != std::string::npos);
  CHECK(CheckAdminTokenEntries({"read:has space 0123456789"}).find("printable") !=
        std::string::npos);
}

// Issue 19 on issue 17: the pure part of monthly quotas on a Redis Cluster
// (lib/core/cluster_quota.h). Against real Redis: test/store/cluster_decision.
// An outcome of `status` (the verdict cases below are tables of them).
QuotaOutcome QuotaOut(QuotaOutcome::Status status, bool repeat = false) {
  QuotaOutcome o;
  o.status = status;
  o.repeat = repeat;
  return o;
}


TEST_CASE("cluster quota: the period is the calendar month at the [quota] offset") {
  // 2027-01-15T08:00:00Z (the store tests' clock).
  CHECK(QuotaPeriod(1800000000000, 0) == "202701");
  // 2026-12-31T23:30:00Z: still December in UTC, January at +01:00, December at -05:00.
  int64_t t = 1798759800000;
  CHECK(QuotaPeriod(t, 0) == "202612");
  CHECK(QuotaPeriod(t, 60) == "202701");
  CHECK(QuotaPeriod(t, -300) == "202612");
  // A leap day, and the first millisecond of a month.
  CHECK(QuotaPeriod(1709164800000, 0) == "202402");  // 2024-02-29T00:00:00Z
  CHECK(QuotaPeriod(1709251200000, 0) == "202403");  // 2024-03-01T00:00:00Z
  CHECK(QuotaPeriod(1709251199999, 0) == "202402");
  CHECK(QuotaSpecOffset("-330|reject|80,90,100") == -330);
  CHECK(QuotaSpecOffset("60|defer|") == 60);
  CHECK(QuotaSpecOffset("") == 0);
  CHECK(QuotaSpecOffset("x|reject|") == 0);
}

TEST_CASE("cluster quota: the user's quota, then its account's; keys in each one's slot") {
  std::vector<std::string> args(32);
  args[kArgPrefix] = "pd:";
  args[kArgSubject] = "user:alice";
  AccessOutcome o;
  CHECK(RequestQuotas(o, args).empty());
  o.user_quota = "100";
  o.account = "acme";
  o.account_quota = "500";
  std::vector<QuotaSubject> q = RequestQuotas(o, args);
  REQUIRE(q.size() == 2);
  CHECK(q[0].tag == "user:alice");
  CHECK(q[0].quota == "100");
  CHECK(q[1].tag == "account:acme");
  CHECK(q[1].quota == "500");
  o.user_quota = "";
  o.account = "";
  CHECK(RequestQuotas(o, args).empty());  // an account's quota needs the account

  QuotaCallContext ctx;
  ctx.subject.now_ms = 1800000000000;
  ctx.subject.reservation_ms = 300000;
  ctx.subject.message_id = "m1";
  ctx.quota_spec = "0|reject|80,90,100";
  ctx.messages = 1;
  std::vector<std::string> keys = QuotaCallKeys(ctx, "account:acme");
  CHECK(keys == std::vector<std::string>{"pd:quota:{account:acme}:202701",
                                         "pd:qresv:{account:acme}:6000000",
                                         "pd:qresv:{account:acme}:5999999"});
  std::vector<std::string> a = BuildQuotaCallArgs(ctx, q[1], QuotaMode::kRefund);
  REQUIRE(a.size() == 11);
  CHECK(a[2] == "account:acme");
  CHECK(a[4] == "refund");
  CHECK(a[5] == "m1");
  CHECK(!a[10].empty());  // the account's slot-tag: its warnings' outbox
}

TEST_CASE("cluster quota: a refusal outranks a failure; counts go back unless admitted") {
  using S = QuotaOutcome::Status;
  using K = QuotaVerdict::Kind;
  QuotaVerdict none = CombineQuotaOutcomes({});
  CHECK(none.kind == K::kAdmit);
  CHECK(!none.repeat);

  QuotaOutcome warned = QuotaOut(S::kCounted);
  warned.warnings = "user:alice 80";
  QuotaOutcome account = QuotaOut(S::kCounted);
  account.warnings = "account:acme 90,account:acme 100";
  QuotaVerdict admit = CombineQuotaOutcomes({warned, account});
  CHECK(admit.kind == K::kAdmit);
  CHECK(admit.refunds.empty());
  CHECK(admit.warnings == "user:alice 80,account:acme 90,account:acme 100");
  CHECK(!admit.repeat);
  CHECK(CombineQuotaOutcomes({QuotaOut(S::kCounted, true), QuotaOut(S::kNone)}).kind == K::kAdmit);
  CHECK(CombineQuotaOutcomes({QuotaOut(S::kCounted, true), QuotaOut(S::kCounted, true)}).repeat);

  QuotaOutcome refused = QuotaOut(S::kRefused);
  refused.used = 5;
  refused.quota = 5;
  refused.rule = "quota account:acme 5/5 in 202701";
  QuotaVerdict r = CombineQuotaOutcomes({QuotaOut(S::kError), warned, refused});
  CHECK(r.kind == K::kRefuse);
  CHECK(r.deciding == 2);
  CHECK(r.parts.action == "quota");
  CHECK(r.parts.rule == "quota account:acme 5/5 in 202701");
  CHECK(r.parts.metric == "messages");
  CHECK(r.parts.count == 5);
  CHECK(r.parts.max == 5);
  CHECK(r.refunds == std::vector<std::size_t>{0, 1});  // a failed call may have counted
  CHECK(r.warnings.empty());  // a refused message crossed no level

  QuotaVerdict f = CombineQuotaOutcomes({QuotaOut(S::kCounted), QuotaOut(S::kError)});
  CHECK(f.kind == K::kFailure);
  CHECK(f.deciding == 1);
  CHECK(f.refunds == std::vector<std::size_t>{0, 1});
  QuotaVerdict g = CombineQuotaOutcomes({QuotaOut(S::kRefunded, true), QuotaOut(S::kCounted)});
  CHECK(g.kind == K::kGivenUp);
  CHECK(g.refunds == std::vector<std::size_t>{1});
}

}  // namespace
}  // namespace policyd
