// The pure part of a decision on a Redis Cluster (issue 17): access_decide.lua's reply, the
// rate stage of a request, its limits per subject tag, and the verdicts' fields.
#include "core/cluster_verdict.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace policyd {
namespace {

using Strings = std::vector<std::string>;

// decide.lua's ARGV 1-32 with the fields the cluster decision reads set.
Strings Args(const std::string& stage, const std::string& count_at) {
  Strings a(kDecideArgsCount);
  a[1] = "1800000000000";
  a[kArgPrefix] = "pd:";
  a[3] = stage;
  a[4] = count_at;
  a[kArgSubject] = "user:alice";
  a[kArgSenderTag] = "sender:a@example.com";
  a[kArgDomain] = "example.com";
  a[8] = "ip:192.0.2.1";
  a[10] = "3";
  a[11] = "1000";
  a[12] = "msgid";
  a[13] = "rcptid";
  return a;
}

}  // namespace

TEST_CASE("cluster verdict: access_decide's reply") {
  Strings pass{"pass", "user:messages:3600:10,ip:recipients:60:500", "acme", "", "", "", "",
               "",     "",                                           "explicit", "default"};
  auto o = ParseAccessOutcome(pass);
  REQUIRE(o);
  CHECK(o->kind == "pass");
  REQUIRE(o->limits.size() == 2);
  CHECK(o->limits[1].subject == "ip");
  CHECK(o->account == "acme");
  Strings block{"block", "", "", "", "", "user:alice", "manual", "r1", "", "unknown", ""};
  o = ParseAccessOutcome(block);
  REQUIRE(o);
  CHECK(o->block_tag == "user:alice");
  CHECK(o->block_report == "r1");
  CHECK_FALSE(ParseAccessOutcome({"pass"}));
  Strings bad = block;
  bad[0] = "maybe";
  CHECK_FALSE(ParseAccessOutcome(bad));
  bad = pass;
  bad[1] = "user:messages";
  CHECK_FALSE(ParseAccessOutcome(bad));
  // Explain mode: the facts as a twelfth element.
  Strings explained = pass;
  explained.push_back(R"({"plan":"default"})");
  o = ParseAccessOutcome(explained);
  REQUIRE(o);
  CHECK(o->facts == R"({"plan":"default"})");
  CHECK(ParseAccessOutcome(pass)->facts.empty());
}

TEST_CASE("cluster verdict: an IP or ACL refusal's report call, made or only looked up") {
  AccessOutcome acl;
  acl.kind = "acl";
  acl.acl_reason = "domain x.org is not granted to user:alice";
  acl.report_mode = "explicit";
  Strings a = Args("rcpt", "eom");
  a[23] = "192.0.2.1";
  a[kArgClientHex] = "00000000000000000000ffffc0000201";
  RefusalReportCall made = RefusalReportOf(acl, a, /*create=*/true);
  CHECK(made.route_key == "pd:aclrep:{user:alice}:example.com");
  REQUIRE(made.args.size() == 17);
  CHECK(made.args[9] == acl.acl_reason);
  CHECK(made.args[16] == "1");
  CHECK(made.parts.rule == "acl " + acl.acl_reason);
  AccessOutcome ip = acl;
  ip.kind = "ip";
  RefusalReportCall looked = RefusalReportOf(ip, a, /*create=*/false);
  CHECK(looked.route_key == "pd:iprep:{user:alice}:00000000000000000000ffffc0000201");
  CHECK(looked.args[16] == "0");
  CHECK(looked.parts.action == "ip");
  CHECK(looked.parts.rule == "ip 192.0.2.1 not in allow-list");
}

TEST_CASE("cluster verdict: decide.lua's cost table") {
  auto eom = ReadRateStage(Args("eom", "eom"));
  REQUIRE(eom);
  CHECK(eom->counting);
  CHECK(eom->identity == "msgid");
  CHECK(eom->costs.recipients == 3);
  CHECK(eom->costs.bytes == 1000);
  auto pre = ReadRateStage(Args("rcpt", "eom"));
  REQUIRE(pre);
  CHECK_FALSE(pre->counting);
  CHECK(pre->identity.empty());
  CHECK(pre->costs.messages == 1);
  CHECK(pre->costs.recipients == 1);
  auto rcpt = ReadRateStage(Args("rcpt", "rcpt"));
  REQUIRE(rcpt);
  CHECK(rcpt->counting);
  CHECK(rcpt->identity == "rcptid");
  CHECK(rcpt->message == "msgid");  // its messages and bytes cost once per message
  CHECK(eom->message.empty());
  CHECK(pre->message.empty());
  CHECK_FALSE(ReadRateStage(Args("eom", "rcpt")));
}

TEST_CASE("cluster verdict: limits by subject tag, and the refusing limit's subject word") {
  auto limits_of = [](const char* text) { return *ParseResolvedLimits(text); };
  Strings kinds;
  Strings args = Args("eom", "eom");
  auto tagged = RequestLimits(
      limits_of("user:messages:3600:10,account:messages:3600:50,ip:bytes:60:9,sender:"
                "messages:60:2,other:messages:60:1"),
      args, "acme", &kinds);
  REQUIRE(tagged.size() == 4);
  CHECK(tagged[0].tag == "user:alice");
  CHECK(tagged[1].tag == "account:acme");
  CHECK(tagged[2].tag == "ip:192.0.2.1");
  CHECK(tagged[3].tag == "sender:a@example.com");
  CHECK(kinds == Strings{"user", "account", "ip", "sender"});
  // No account: its limit does not apply.
  CHECK(RequestLimits(limits_of("account:messages:3600:50"), args, "", &kinds).empty());

  // An unauthenticated sender: user and sender limits on one tag and one window.
  args[kArgSubject] = args[kArgSenderTag];
  tagged = RequestLimits(limits_of("user:messages:3600:3,sender:messages:3600:2"), args, "",
                         &kinds);
  SubjectOutcome o;
  o.status = SubjectOutcome::Status::kRefused;
  o.metric = "messages";
  o.window_s = 3600;
  o.count = 2;
  o.max = 2;
  o.retry_after_s = 17;
  RateRefusal r = RateRefusalOf({args[kArgSenderTag], {}}, o, tagged, kinds);
  CHECK(r.parts.rule == "rate sender.messages.3600s");
  CHECK(r.evidence == "messages 2/2 per 3600s (sender)");
  auto v = ClusterVerdict(r.parts, args);
  REQUIRE(v.ok());
  CHECK(v->action == Action::kThrottled);
  CHECK(v->retry_after_s == 17);
  CHECK(v->window_ms == 3600000);
  CHECK(v->domain == "example.com");
}

}  // namespace policyd
