// Issue 17: a decision's subjects checked and counted each in its own slot, with refunds, on a
// real Redis Cluster (3 primaries + 3 replicas, started once for this binary: fixture.h) and on
// one Redis. subject_count.lua / subject_refund.lua directly (repeat, refund idempotency,
// tombstone, expiry of an unrefunded reservation, with an injected clock), then ClusterDecision
// (a refusal or a failure refunds the others; a refusal by a count being refunded, decided
// again; kill -9 of a primary, on a cluster of its own: failure, refunds, then exact again
// after its replica's promotion). The race is cluster_decision_race_test.cc.
#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

#include "fixture.h"

namespace policyd::test {

TEST_CASE("cluster decision: the test subjects sit on three different primaries") {
  Cluster& cluster = SharedCluster();
  std::string user = TagOn(0, "user:u"), account = TagOn(1, "account:a"),
              ip = TagOn(2, "ip:10.0.0.");
  Router router(cluster.nodes[0]->port());
  ClusterScriptRunner runner(&router.client());
  const std::string tags[3] = {user, account, ip};
  for (int i = 0; i < 3; ++i) {
    CAPTURE(tags[i]);
    CHECK(OwnerOf(tags[i]) == i);
    CHECK(Count(router, runner, tags[i], "placement", 10).status == Status::kCounted);
    // The counts and the reservation live on the subject's primary, and only there.
    CHECK(cluster.nodes[i]->CmdOne({"EXISTS", RateKey(tags[i])}) == "1");
    CHECK(cluster.nodes[(i + 1) % 3]->CmdOne({"EXISTS", RateKey(tags[i])}) != "1");
    auto keys = cluster.nodes[i]->Cmd({"KEYS", "pd:resv:{" + tags[i] + "}:*"});
    CHECK(keys.size() == 1);
  }
  // A call whose KEYS[1] is not the subject's own key is refused by the script.
  auto wrong = RunScript(router, runner, "subject_count", user,
                         BuildSubjectCountArgs(Ctx("x"), SubjectCall{TagOn(0, "user:u", 1), {}},
                                               SubjectCosts{1, 0, 0}));
  CHECK(!wrong.ok());
}

TEST_CASE("cluster decision: repeat, refund idempotency, tombstone, unrefunded expiry") {
  Cluster& cluster = SharedCluster();
  Router router(cluster.nodes[0]->port());
  ClusterScriptRunner runner(&router.client());
  std::string tag = TagOn(1, "user:idem");

  SUBCASE("a repeated count counts nothing again and answers the same") {
    CHECK(Count(router, runner, tag, "m1", 2).status == Status::kCounted);
    auto again = Count(router, runner, tag, "m1", 2);
    CHECK(again.status == Status::kCounted);
    CHECK(again.repeat);
    CHECK(Total(tag) == 1);
    CHECK(Total(tag, "recipients:60") == 1);
    CHECK(Count(router, runner, tag, "m2", 2).status == Status::kCounted);
    auto refused = Count(router, runner, tag, "m3", 2);
    CHECK(refused.status == Status::kRefused);
    CHECK(refused.metric == "messages");
    CHECK(refused.count == 2);
    CHECK(refused.max == 2);
    CHECK(refused.retry_after_s > 0);
    // The refusal answers the same when repeated, even after room is made.
    int64_t units = 0;
    CHECK(Refund(router, runner, tag, "m2", kNow, &units) == "refunded");
    CHECK(units == 2);  // messages and recipients
    auto again3 = Count(router, runner, tag, "m3", 2);
    CHECK(again3.status == Status::kRefused);
    CHECK(again3.repeat);
    CHECK(again3.count == 2);
    CHECK(again3.retry_after_s == refused.retry_after_s);
    CHECK(Refund(router, runner, tag, "m3") == "refused");
    CHECK(Total(tag) == 1);
  }
  SUBCASE("a refund takes back exactly the reservation, once") {
    CHECK(Count(router, runner, tag, "m1", 5).status == Status::kCounted);
    CHECK(Count(router, runner, tag, "m2", 5).status == Status::kCounted);
    CHECK(Total(tag) == 2);
    CHECK(Refund(router, runner, tag, "m1") == "refunded");
    CHECK(Total(tag) == 1);
    CHECK(Total(tag, "recipients:60") == 1);
    CHECK(Refund(router, runner, tag, "m1") == "already");
    CHECK(Refund(router, runner, tag, "m1", kNow + 1000) == "already");
    CHECK(Total(tag) == 1);
    // The refunded identity counts nothing again.
    CHECK(Count(router, runner, tag, "m1", 5).status == Status::kRefunded);
    CHECK(Total(tag) == 1);
  }
  SUBCASE("a refund before its reservation leaves a tombstone: the late count counts nothing") {
    CHECK(Refund(router, runner, tag, "late") == "tombstone");
    CHECK(Refund(router, runner, tag, "late") == "already");
    CHECK(Count(router, runner, tag, "late", 5).status == Status::kRefunded);
    CHECK(Total(tag) == 0);
  }
  SUBCASE("a refund after the bucket left the window gives nothing back, and marks it") {
    CHECK(Count(router, runner, tag, "old", 5).status == Status::kCounted);
    int64_t units = -1;
    CHECK(Refund(router, runner, tag, "old", kNow + 61000, &units) == "refunded");
    CHECK(units == 1);  // the hour's message; the minute's recipient had left its window
    CHECK(Total(tag) == 0);
  }
  SUBCASE("a window the request costs nothing under still sets the hash's TTL") {
    // Bytes per day and messages per minute; the second message has no bytes. Its count
    // opens a new minute bucket (PEXPIRE), which must not shorten the day's counts.
    SubjectCall call{tag, {{"bytes", 86400, 1000000}, {"messages", 60, 100}}};
    auto count = [&](const std::string& id, int64_t bytes, int64_t now) {
      return ParseSubjectCountReply(RunScript(
          router, runner, "subject_count", tag,
          BuildSubjectCountArgs(Ctx(id, now), call, SubjectCosts{1, 1, bytes})));
    };
    CHECK(count("b1", 5000, kNow).status == Status::kCounted);
    CHECK(count("b2", 0, kNow + 61000).status == Status::kCounted);
    int64_t pttl = std::stoll(cluster.nodes[1]->CmdOne({"PTTL", RateKey(tag)}));
    CHECK(pttl > 86400000);
    CHECK(Total(tag, "bytes:86400") == 5000);
  }
  SUBCASE("a reservation never refunded stays counted; its record expires by itself") {
    CHECK(Count(router, runner, tag, "crashed", 5).status == Status::kCounted);
    auto keys = cluster.nodes[1]->Cmd({"KEYS", "pd:resv:{" + tag + "}:*"});
    REQUIRE(keys.size() == 1);
    int64_t pttl = std::stoll(cluster.nodes[1]->CmdOne({"PTTL", keys[0]}));
    CHECK(pttl > 0);
    CHECK(pttl <= 2 * kSpan);
    // Two spans later (the clock injected) no record is found: a refund now only leaves a
    // tombstone, and the count stays until its window ends.
    CHECK(Refund(router, runner, tag, "crashed", kNow + 2 * kSpan + 1) == "tombstone");
    CHECK(Total(tag) == 1);
  }
  for (auto& n : cluster.nodes) {
    if (n->CmdOne({"ROLE"}) == "master") n->Cmd({"FLUSHALL"});
  }
}

TEST_CASE("cluster decision: count_at = rcpt, a message's RCPTs cost it once per subject") {
  Cluster& cluster = SharedCluster();
  Router router(cluster.nodes[0]->port());
  ClusterScriptRunner runner(&router.client());
  std::string tag = TagOn(2, "user:txn");
  // RCPTs a, b, c, d of one message t1, each costing at most a message, a recipient, 500 B.
  auto ctx_of = [](const std::string& rcpt) {
    SubjectCallContext ctx = Ctx(rcpt);
    ctx.transaction_id = "t1";
    return ctx;
  };
  auto count = [&](const std::string& rcpt) {
    SubjectCall call{tag,
                     {{"messages", 3600, 10}, {"recipients", 60, 1000}, {"bytes", 3600, 100000}}};
    return ParseSubjectCountReply(RunScript(router, runner, "subject_count", tag,
                                            BuildSubjectCountArgs(ctx_of(rcpt), call,
                                                                  SubjectCosts{1, 1, 500})));
  };
  auto refund = [&](const std::string& rcpt) {
    auto r = RunScript(router, runner, "subject_refund", tag,
                       BuildSubjectRefundArgs(ctx_of(rcpt), tag));
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    return r->elements[0].AsString();
  };
  auto totals = [&] {
    return std::vector<int64_t>{Total(tag), Total(tag, "recipients:60"),
                                Total(tag, "bytes:3600")};
  };
  using T = std::vector<int64_t>;
  CHECK(count("a").status == Status::kCounted);
  CHECK(totals() == T{1, 1, 500});
  CHECK(count("b").status == Status::kCounted);
  CHECK(totals() == T{1, 2, 500});  // the message was counted at a: a recipient only
  CHECK(count("b").repeat);
  CHECK(refund("b") == "refunded");
  CHECK(totals() == T{1, 1, 500});  // b's refund leaves a's mark
  CHECK(count("c").status == Status::kCounted);
  CHECK(totals() == T{1, 2, 500});
  // a's refund takes its message back and its mark with it (c, counted as a recipient only,
  // keeps its recipient): the next RCPT costs the message again, as after a refusal.
  CHECK(refund("a") == "refunded");
  CHECK(totals() == T{0, 1, 0});
  CHECK(count("d").status == Status::kCounted);
  CHECK(totals() == T{1, 2, 500});
  // Another message of the same subject is its own.
  SubjectCallContext other = Ctx("e");
  other.transaction_id = "t2";
  SubjectCall call{tag, {{"messages", 3600, 10}}};
  CHECK(ParseSubjectCountReply(RunScript(router, runner, "subject_count", tag,
                                         BuildSubjectCountArgs(other, call,
                                                               SubjectCosts{1, 1, 500})))
            .status == Status::kCounted);
  CHECK(Total(tag) == 2);
}

TEST_CASE("cluster decision: a refusal or a failure refunds the subjects that counted") {
  Cluster& cluster = SharedCluster();
  Router router(cluster.nodes[0]->port());
  ClusterScriptRunner runner(&router.client());
  ClusterDecision decision(ClusterSubjectCall(&runner));
  auto run = [&router](auto done) { router.RunUntil(done); };
  std::string user = TagOn(0, "user:ref"), account = TagOn(1, "account:ref"),
              ip = TagOn(2, "ip:10.1.0.");
  auto limits = Limits(user, 5, account, 2, ip, 5);

  CHECK(DecideNow(decision, run, "a", limits).verdict.kind == Kind::kAdmit);
  CHECK(DecideNow(decision, run, "b", limits).verdict.kind == Kind::kAdmit);
  auto refused = DecideNow(decision, run, "c", limits);
  REQUIRE(refused.verdict.kind == Kind::kRefuse);
  CHECK(refused.calls[refused.verdict.deciding].tag == account);
  CHECK(refused.outcomes[refused.verdict.deciding].count == 2);
  CHECK(refused.verdict.refunds == std::vector<size_t>{0, 2});
  // The user and the IP counted "c", then gave it back.
  CHECK(Total(user) == 2);
  CHECK(Total(account) == 2);
  CHECK(Total(ip) == 2);
  // Repeated: the same refusal, nothing counted.
  auto repeat = DecideNow(decision, run, "c", limits);
  CHECK(repeat.verdict.kind == Kind::kRefuse);
  CHECK(repeat.outcomes[1].repeat);
  CHECK(Total(user) == 2);
  CHECK(Total(ip) == 2);
  // An admitted request repeated is admitted again and counts nothing.
  CHECK(DecideNow(decision, run, "a", limits).verdict.kind == Kind::kAdmit);
  CHECK(Total(user) == 2);

  // A subject whose call fails (its counter key holds a string: the script errors): the
  // failure answers, the others are refunded.
  std::string broken = TagOn(2, "ip:10.2.0.");
  cluster.nodes[2]->Cmd({"SET", RateKey(broken), "x"});
  auto failed =
      DecideNow(decision, run, "d", Limits(user, 5, TagOn(1, "account:ok"), 5, broken, 5));
  CHECK(failed.verdict.kind == Kind::kFailure);
  CHECK(failed.calls[failed.verdict.deciding].tag == broken);
  CHECK(Total(user) == 2);
  CHECK(Total(TagOn(1, "account:ok")) == 0);
  // The broken subject was refunded too (its call might have counted): a tombstone there.
  CHECK(decision.refunds_lost() == 0);
  for (auto& n : cluster.nodes) {
    if (n->CmdOne({"ROLE"}) == "master") n->Cmd({"FLUSHALL"});
  }
}

TEST_CASE("cluster decision: the same orchestration on one Redis") {
  OneRedisLoop one(10);
  RedisServer& redis = one.redis;
  auto run = [&one](auto done) { one.Run(done); };
  ScriptRunner runner(one.client.get());
  {
    ClusterDecision decision(OneRedisSubjectCall(&runner));
    auto limits = Limits("user:alice", 5, "account:acme", 2, "ip:192.0.2.1", 5);
    CHECK(DecideNow(decision, run, "a", limits).verdict.kind == Kind::kAdmit);
    CHECK(DecideNow(decision, run, "b", limits).verdict.kind == Kind::kAdmit);
    auto refused = DecideNow(decision, run, "c", limits);
    REQUIRE(refused.verdict.kind == Kind::kRefuse);
    CHECK(refused.calls[refused.verdict.deciding].tag == "account:acme");
    for (const char* tag : {"user:alice", "account:acme", "ip:192.0.2.1"}) {
      CAPTURE(tag);
      CHECK(redis.CmdOne({"HGET", RateKey(tag), "messages:3600:total"}) == "2");
    }
    CHECK(DecideNow(decision, run, "c", limits).verdict.kind == Kind::kRefuse);
    CHECK(redis.CmdOne({"HGET", RateKey("user:alice"), "messages:3600:total"}) == "2");
  }
}

TEST_CASE("cluster decision: a refusal by a count that is being refunded, decided again") {
  Cluster& cluster = SharedCluster();
  Router router(cluster.nodes[0]->port());
  ClusterScriptRunner runner(&router.client());
  auto run = [&router](auto done) { router.RunUntil(done); };
  std::string user = TagOn(0, "user:again"), ip = TagOn(2, "ip:10.3.0.");
  std::vector<TaggedLimit> limits = {{user, {"messages", 3600, 5}}, {ip, {"messages", 3600, 1}}};
  for (bool retry : {false, true}) {
    CAPTURE(retry);
    ClusterDecision decision(ClusterSubjectCall(&runner), retry);
    std::string id = retry ? "with" : "without";
    // Another request holds the IP's one unit; its refund is sent right after this request's
    // calls, so it lands before anything this request sends after its replies.
    REQUIRE(Count(router, runner, ip, "other-" + id, 1).status == Status::kCounted);
    std::optional<SubjectDecision> out;
    decision.Decide(Ctx(id), limits, SubjectCosts{1, 1, 1000},
                    [&out](SubjectDecision r) { out = std::move(r); });
    decision.Refund(Ctx("other-" + id), ip);
    run([&] { return out.has_value() && decision.refunds_in_flight() == 0; });
    REQUIRE(out.has_value());
    if (!retry) {
      // A false refusal: refused by a count that was then refunded.
      CHECK(out->verdict.kind == Kind::kRefuse);
      CHECK(Total(ip) == 0);
      CHECK(Total(user) == 0);
    } else {
      CHECK(out->verdict.kind == Kind::kAdmit);
      CHECK(decision.second_tries() == 1);
      CHECK(Total(ip) == 1);
      CHECK(Total(user) == 1);
      // Repeated: the first attempt's refusal, then the second's admission; nothing counted.
      std::optional<SubjectDecision> again;
      decision.Decide(Ctx(id), limits, SubjectCosts{1, 1, 1000},
                      [&again](SubjectDecision r) { again = std::move(r); });
      run([&] { return again.has_value() && decision.refunds_in_flight() == 0; });
      REQUIRE(again.has_value());
      CHECK(again->verdict.kind == Kind::kAdmit);
      CHECK(Total(ip) == 1);
      CHECK(Total(user) == 1);
      cluster.nodes[2]->Cmd({"DEL", RateKey(ip)});
      cluster.nodes[0]->Cmd({"DEL", RateKey(user)});
    }
  }
}

TEST_CASE("cluster decision: a failed primary answers failure, refunds the others; after "
          "its replica's promotion decisions are exact again") {
  Cluster cluster(/*replicas=*/true);  // its own: a primary of it dies
  Router router(cluster.nodes[0]->port());
  ClusterScriptRunner runner(&router.client());
  auto run = [&router](auto done) { router.RunUntil(done); };
  std::string user = TagOn(0, "user:fo"), account = TagOn(1, "account:fo"), ip = TagOn(2, "ip:fo");
  auto limits = Limits(user, 10, account, 10, ip, 10);
  auto total_on = [&](int node, const std::string& tag) {
    std::string v = cluster.nodes[node]->CmdOne({"HGET", RateKey(tag), "messages:3600:total"});
    return v == "(nil)" ? std::string("0") : v;
  };
  {
    ClusterDecision decision(ClusterSubjectCall(&runner));
    CHECK(DecideNow(decision, run, "a", limits).verdict.kind == Kind::kAdmit);
  }
  for (int i = 0; i < 3; ++i) cluster.nodes[i]->Cmd({"WAIT", "1", "2000"});  // replicas have it

  // The IP's primary dies: its call fails within the timeout, the others are refunded.
  cluster.nodes[2]->Kill();
  {
    ClusterDecision decision(ClusterSubjectCall(&runner));
    auto failed = DecideNow(decision, run, "b", limits, /*timeout_ms=*/300);
    CHECK(failed.verdict.kind == Kind::kFailure);
    CHECK(failed.calls[failed.verdict.deciding].tag == ip);
    CHECK(total_on(0, user) == "1");
    CHECK(total_on(1, account) == "1");
  }
  // The replica takes over with the count it had; decisions are exact again.
  auto promoted = [&] {
    if (cluster.nodes[5]->Cmd({"ROLE"}).front() != "master") return false;
    for (int n : {0, 1, 3, 4, 5}) {
      if (cluster.nodes[n]->CmdOne({"CLUSTER", "INFO"}).find("cluster_state:ok") ==
          std::string::npos) {
        return false;
      }
    }
    return true;
  };
  Cluster::Await(promoted, 20000);
  REQUIRE(promoted());
  {
    ClusterDecision decision(ClusterSubjectCall(&runner));
    auto again = DecideNow(decision, run, "c", limits);
    CHECK_MESSAGE(again.verdict.kind == Kind::kAdmit,
                  again.outcomes[again.verdict.deciding].error);
    CHECK(total_on(0, user) == "2");
    CHECK(total_on(1, account) == "2");
    CHECK(total_on(5, ip) == "2");  // "a" survived the failover, "b" never counted there
    // "b" repeated: its refunded subjects answer "refunded", so it is never admitted.
    auto repeat = DecideNow(decision, run, "b", limits);
    CHECK(repeat.verdict.kind == Kind::kGivenUp);
    CHECK(total_on(5, ip) == "2");
  }
}

}  // namespace policyd::test

namespace policyd::test {

// The refunds' retry (store/retried_script_call.h) over a call whose refunds fail the way a
// lost connection does (an Error before the script runs) while failures_left lasts, and
// otherwise reach one real Redis.
TEST_CASE("cluster decision: a refund that fails is sent again, and given up after its attempts") {
  OneRedisLoop one(10);
  ScriptRunner runner(one.client.get());
  SubjectScriptCall real = OneRedisSubjectCall(&runner);
  int failures_left = 0, refund_attempts = 0;
  SubjectScriptCall flaky = [&](std::string_view name, std::vector<std::string> keys,
                                std::vector<std::string> args, uint64_t timeout_ms,
                                RedisClient::Callback callback) {
    if (name == "subject_refund") {
      ++refund_attempts;
      if (failures_left > 0) {
        --failures_left;
        return callback(Error{ErrorCode::kUnavailable, "connection lost"});
      }
    }
    real(name, std::move(keys), std::move(args), timeout_ms, std::move(callback));
  };
  ClusterDecision decision(flaky);
  auto limits = Limits("user:retry", 1, "account:retry", 5, "ip:192.0.2.9", 5);
  auto run = [&one](auto done) { one.Run(done); };
  REQUIRE(DecideNow(decision, run, "a", limits).verdict.kind == Kind::kAdmit);
  auto total = [&one](const char* tag) {
    return one.redis.CmdOne({"HGET", RateKey(tag), "messages:3600:total"});
  };
  auto settled = [&decision] { return decision.refunds_in_flight() == 0; };

  SUBCASE("the first attempts fail, the retries land") {
    failures_left = 2;
    auto refused = DecideNow(decision, run, "b", limits);
    REQUIRE(refused.verdict.kind == Kind::kRefuse);
    REQUIRE(refused.verdict.refunds.size() == 2);  // the account and the IP counted "b"
    one.Run(settled);
    CHECK(refund_attempts == 4);
    CHECK(decision.refund_retries() == 2);
    CHECK(decision.refunds_lost() == 0);
    CHECK(total("account:retry") == "1");
    CHECK(total("ip:192.0.2.9") == "1");
  }
  SUBCASE("every attempt fails: lost, counted, and landed() still runs") {
    failures_left = 1000;
    auto refused = DecideNow(decision, run, "b", limits);
    REQUIRE(refused.verdict.kind == Kind::kRefuse);
    one.Run(settled);
    CHECK(refund_attempts == 2 * ClusterDecision::kRefundAttempts);
    CHECK(decision.refunds_lost() == 2);
    CHECK(total("account:retry") == "2");  // the counts stay (they expire with their windows)
    bool landed = false;
    decision.Refund(Ctx("b"), "account:retry", [&landed] { landed = true; });
    one.Run([&landed] { return landed; });
    CHECK(landed);
    CHECK(decision.refunds_lost() == 3);
  }
}

}  // namespace policyd::test
