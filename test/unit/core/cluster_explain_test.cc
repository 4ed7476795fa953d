// explain on a Redis Cluster, the pure part (issue 17): access_decide's facts and each
// subject's subject_explain entries joined into decide.lua's facts JSON, facts.limits in the
// request's limit order, and the rate verdict the cluster's decision gives for those windows.
#include "core/cluster_explain.h"

#include <doctest/doctest.h>
#include <nlohmann/json.hpp>

#include <string>
#include <vector>

namespace policyd {
namespace {

using nlohmann::json;

const char kAccess[] = R"({"now":1800000000000,"subject":"user:alice","stage":"eom",)"
                       R"("account":"acme","plan":"default","mode":"account"})";

// The user's messages, the IP's messages, then the user's bytes: tags interleaved, as a
// plan may list them.
std::vector<TaggedLimit> Limits() {
  return {{"user:alice", {"messages", 3600, 3}},
          {"ip:192.0.2.1", {"messages", 3600, 10}},
          {"user:alice", {"bytes", 60, 5000}}};
}

std::string Entry(const std::string& tag, const std::string& metric, int max, int window,
                  int count, int retry = -1) {
  json e = {{"subject", tag}, {"metric", metric}, {"max", max}, {"window", window},
            {"count", count}};
  if (retry >= 0) e["retry_after"] = retry;
  return e.dump();
}

RateStage Eom() {
  RateStage s;
  s.costs = {1, 2, 1000};
  s.counting = true;
  return s;
}

}  // namespace

TEST_CASE("cluster explain: facts.limits in the request's order, the verdict within limits") {
  std::vector<TaggedLimit> limits = Limits();
  std::vector<std::string> kinds{"user", "ip", "user"};
  std::vector<SubjectCall> calls = SubjectCallsByTag(limits);
  REQUIRE(calls.size() == 2);
  std::vector<std::string> replies{
      "[" + Entry("user:alice", "messages", 3, 3600, 1) + "," +
          Entry("user:alice", "bytes", 5000, 60, 2000) + "]",
      "[" + Entry("ip:192.0.2.1", "messages", 10, 3600, 4) + "]"};
  auto e = ExplainRates(kAccess, Eom(), limits, kinds, calls, replies);
  REQUIRE_MESSAGE(e.ok(), e.error().message);
  CHECK(e->parts.action == "dunno");
  CHECK(e->parts.rule == "within limits");
  json facts = json::parse(e->facts);
  CHECK(facts["account"] == "acme");
  REQUIRE(facts["limits"].size() == 3);
  CHECK(facts["limits"][0]["metric"] == "messages");
  CHECK(facts["limits"][1]["subject"] == "ip:192.0.2.1");
  CHECK(facts["limits"][2]["metric"] == "bytes");

  RateStage precheck = Eom();
  precheck.counting = false;
  e = ExplainRates(kAccess, precheck, limits, kinds, calls, replies);
  REQUIRE(e.ok());
  CHECK(e->parts.rule == "pre-check within limits");
}

TEST_CASE("cluster explain: a refusal is the cluster decision's (first refusing subject)") {
  std::vector<TaggedLimit> limits = Limits();
  std::vector<std::string> kinds{"user", "ip", "user"};
  std::vector<SubjectCall> calls = SubjectCallsByTag(limits);
  // The IP refuses, and the user's bytes (its third limit): the user's subject comes first.
  std::vector<std::string> replies{
      "[" + Entry("user:alice", "messages", 3, 3600, 1) + "," +
          Entry("user:alice", "bytes", 5000, 60, 4500, 30) + "]",
      "[" + Entry("ip:192.0.2.1", "messages", 10, 3600, 10, 600) + "]"};
  auto e = ExplainRates(kAccess, Eom(), limits, kinds, calls, replies);
  REQUIRE(e.ok());
  CHECK(e->parts.action == "rate");
  CHECK(e->parts.rule == "rate user.bytes.60s");
  CHECK(e->parts.count == 4500);
  CHECK(e->parts.max == 5000);
  CHECK(e->parts.retry_after == 30);
  replies[0] = "[" + Entry("user:alice", "messages", 3, 3600, 1) + "," +
               Entry("user:alice", "bytes", 5000, 60, 4500) + "]";
  e = ExplainRates(kAccess, Eom(), limits, kinds, calls, replies);
  REQUIRE(e.ok());
  CHECK(e->parts.rule == "rate ip.messages.3600s");
  CHECK(e->parts.retry_after == 600);
}

TEST_CASE("cluster explain: no limits is decide.lua's empty table; bad replies are errors") {
  auto e = ExplainRates(kAccess, Eom(), {}, {}, {}, {});
  REQUIRE(e.ok());
  CHECK(json::parse(e->facts)["limits"] == json::object());
  CHECK(e->parts.rule == "within limits");

  std::vector<TaggedLimit> limits = Limits();
  std::vector<std::string> kinds{"user", "ip", "user"};
  std::vector<SubjectCall> calls = SubjectCallsByTag(limits);
  std::string user = "[" + Entry("user:alice", "messages", 3, 3600, 1) + "," +
                     Entry("user:alice", "bytes", 5000, 60, 0) + "]";
  std::string ip = "[" + Entry("ip:192.0.2.1", "messages", 10, 3600, 4) + "]";
  CHECK_FALSE(ExplainRates("not json", Eom(), limits, kinds, calls, {user, ip}).ok());
  CHECK_FALSE(ExplainRates(kAccess, Eom(), limits, kinds, calls, {user}).ok());
  CHECK_FALSE(ExplainRates(kAccess, Eom(), limits, kinds, calls, {ip, ip}).ok());
  CHECK_FALSE(ExplainRates(kAccess, Eom(), limits, kinds, calls, {user, "{}"}).ok());
  CHECK(ExplainRates(kAccess, Eom(), limits, kinds, calls, {user, ip}).ok());
}

TEST_CASE("cluster explain: quotas listed in facts.quota; one used up is the verdict") {
  ClusterExplanation rates;
  rates.parts = Parts("dunno", "within limits");
  rates.facts = kAccess;
  std::vector<QuotaSubject> quotas = {{"user:alice", "5"}, {"account:acme", "x"}};
  QuotaOutcome user, none;
  user.status = QuotaOutcome::Status::kRefused;
  user.used = 5, user.quota = 5, user.rule = "quota user:alice 5/5 in 202612";
  none.status = QuotaOutcome::Status::kNone;
  Result<ClusterExplanation> e = ExplainQuotas(rates, quotas, {user, none}, "202612");
  REQUIRE(e.ok());
  CHECK(json::parse(e->facts)["quota"] ==
        json::parse(R"([{"subject":"user:alice","used":5,"quota":5,"period":"202612",)"
                    R"("unlocked":false}])"));
  CHECK(e->parts.action == "quota");
  CHECK(e->parts.rule == "quota user:alice 5/5 in 202612");
  CHECK((e->parts.metric == "messages" && e->parts.count == 5 && e->parts.max == 5));

  SUBCASE("a rate refusal outranks it, facts.quota still listed") {
    rates.parts = Parts("rate", "rate user:alice.messages.3600s");
    Result<ClusterExplanation> r = ExplainQuotas(rates, quotas, {user, none}, "202612");
    REQUIRE(r.ok());
    CHECK(r->parts.action == "rate");
    CHECK(json::parse(r->facts).contains("quota"));
  }
  SUBCASE("no quota field is a number: no facts.quota, as decide.lua") {
    Result<ClusterExplanation> r = ExplainQuotas(rates, quotas, {none, none}, "202612");
    REQUIRE(r.ok());
    CHECK(!json::parse(r->facts).contains("quota"));
    CHECK(r->parts.action == "dunno");
  }
  SUBCASE("a failed quota call is an error") {
    QuotaOutcome failed;
    failed.error = "timeout";
    CHECK(!ExplainQuotas(rates, quotas, {user, failed}, "202612").ok());
  }
}

}  // namespace policyd
