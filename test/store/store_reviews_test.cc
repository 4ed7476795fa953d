// Reports and review requests through ReportStore: on one Redis (one queue, pd:reviews) and,
// issue 17, on a real Redis Cluster (3 primaries), where a report is read in its subject's
// slot, a review request lands in the queue of that slot (pd:reviews:{SLOTTAG}, next to the
// report) with its event in the slot's outbox, the review list reads every slot's queue over
// every primary and merges them newest first, and a resolve takes the review out of its queue.
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "report_store_fixture.h"
#include "core/report_slot.h"
#include "core/report_token.h"
#include "core/review_queue.h"
#include "store/cluster_script_runner.h"
#include "store/report_store.h"
#include "store/script_runner.h"

namespace policyd::test {
namespace {

std::string Home(const std::string& tag) { return std::string(SubjectSlotTag(tag)); }

// Synchronous calls of a ReportStore, on one Redis or a cluster: run_until runs the store's
// loop until its argument is true.
struct Reports {
  using RunUntil = std::function<void(std::function<bool()>)>;
  Reports(ReportStore* store, RunUntil run_until) : store(store), run_until(std::move(run_until)) {}

  template <typename T, typename Start>
  T Await(Start start) {
    return AwaitCall<T>(run_until, std::move(start));
  }

  std::optional<Report> Get(const std::string& id) {
    auto r = Await<Result<std::optional<Report>>>([&](auto done) { store->Get(config, id, done); });
    REQUIRE(r.ok());
    return *r;
  }
  std::string Request(const std::string& id) {
    auto r = Await<Result<std::string>>(
        [&](auto done) { store->RequestReview(config, id, "please look", done); });
    REQUIRE(r.ok());
    return *r;
  }
  std::vector<std::string> List(std::size_t max) {
    auto r = Await<Result<std::vector<Report>>>(
        [&](auto done) { store->ListReviews(config, max, done); });
    REQUIRE(r.ok());
    std::vector<std::string> ids;
    for (const Report& report : *r) ids.push_back(report.id);
    return ids;
  }
  std::string Resolve(const std::string& id) {  // the script's first word
    auto r = Await<Result<RedisValue>>(
        [&](auto done) { store->ResolveReview(config, id, "fixed", "api", done); });
    REQUIRE(r.ok());
    return r->elements.empty() ? r->AsString() : r->elements[0].AsString();
  }

  Config config = TestConfig();
  ReportStore* store;
  RunUntil run_until;
};

}  // namespace

TEST_CASE("cluster reviews: read, request, list over every primary, resolve") {
  ClusterReports on;
  Cluster& cluster = on.cluster;
  Reports reports(&on.store, [&on](std::function<bool()> done) { on.RunUntil(done); });
  // Four users: two on primary 0 (two slots, two queues on one primary), one on each other.
  std::string users[4] = {TagOn(0, "user:r"), TagOn(0, "user:r", 1), TagOn(1, "user:r"),
                          TagOn(2, "user:r")};
  int primary[4] = {0, 0, 1, 2};
  std::vector<std::string> ids;
  for (const std::string& u : users) {
    std::string id = NewReportId(u);
    auto r = reports.Await<Result<RedisValue>>([&](auto done) {
      on.runner.Run("block_add", "pd:block:{" + u + "}",
                 {"pd:", "0", u, "manual", "test", "3600000", id, "3600000", "10", "3600000",
                  "policyctl", Home(u)},
                 2000, done);
    });
    REQUIRE(r.ok());
    ids.push_back(id);
  }
  // A second report of the first user, in the same slot: its review shares the user's queue.
  std::string second = NewReportId(users[0]);
  cluster.nodes[0]->Cmd({"HSET", "pd:" + ReportKeyName(second), "kind", "acl", "subject", users[0],
                         "review", "none"});
  ids.push_back(second);
  int primary_of[5] = {primary[0], primary[1], primary[2], primary[3], 0};

  // Reads: each report through the cluster from its subject's primary.
  for (int i = 0; i < 4; ++i) {
    CAPTURE(users[i]);
    REQUIRE(cluster.nodes[primary[i]]->CmdOne({"EXISTS", "pd:" + ReportKeyName(ids[i])}) == "1");
    std::optional<Report> report = reports.Get(ids[i]);
    REQUIRE(report.has_value());
    CHECK(report->id == ids[i]);
    CHECK(report->fields["kind"] == "block");
    CHECK(report->fields["subject"] == users[i]);
  }
  CHECK(reports.Get(second)->fields["kind"] == "acl");
  CHECK(!reports.Get(Home(users[2]) + ".0123456789abcdef0123").has_value());

  // Requests, one per millisecond at least, so that review_at orders them.
  for (const std::string& id : ids) {
    CHECK(reports.Request(id) == "requested");
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  CHECK(reports.Request(ids[2]) == "already");
  CHECK(reports.Request(Home(users[1]) + ".0123456789abcdef0123") == "missing");
  for (size_t i = 0; i < ids.size(); ++i) {
    CAPTURE(ids[i]);
    std::string home(ReportIdSlotTag(ids[i]));
    std::string queue = "pd:reviews:{" + home + "}";
    CHECK(KeySlot(queue) == KeySlot("pd:" + ReportKeyName(ids[i])));
    std::vector<std::string> queued =
        cluster.nodes[primary_of[i]]->Cmd({"LRANGE", queue, "0", "-1"});
    CHECK(std::count(queued.begin(), queued.end(), ids[i]) == 1);
    // review.requested waits in the slot's outbox for the relay.
    std::vector<std::string> outbox =
        cluster.nodes[primary_of[i]]->Cmd({"XRANGE", "pd:events:{" + home + "}", "-", "+"});
    CHECK(std::count_if(outbox.begin(), outbox.end(), [&](const std::string& field) {
            return field.find("\"report\":\"" + ids[i] + "\"") != std::string::npos &&
                   field.find("please look") != std::string::npos;
          }) == 1);
  }
  CHECK(cluster.nodes[0]->Cmd({"LRANGE", "pd:reviews:{" + Home(users[0]) + "}", "0", "-1"}) ==
        std::vector<std::string>{ids[4], ids[0]});
  for (int i = 0; i < 3; ++i) CHECK(cluster.nodes[i]->Cmd({"KEYS", "pd:reviews"}).empty());

  // A list that SCAN finds but that is not a queue of ours is left alone.
  std::string stray = "pd:reviews:{user:x}";
  CHECK(on.router.Call(stray, {"LPUSH", stray, ids[0]}).ok());

  // The list: every pending review once, newest request first, bounded.
  std::vector<std::string> newest_first(ids.rbegin(), ids.rend());
  CHECK(reports.List(100) == newest_first);
  CHECK(reports.List(2) == std::vector<std::string>{ids[4], ids[3]});
  CHECK(reports.List(0).empty());

  // Resolve takes a review out of its queue, once.
  CHECK(reports.Resolve(ids[2]) == "ok");
  CHECK(reports.Resolve(ids[2]) == "conflict");
  CHECK(reports.Resolve(Home(users[3]) + ".0123456789abcdef0123") == "notfound");
  CHECK(cluster.nodes[1]->CmdOne({"LLEN", "pd:reviews:{" + Home(users[2]) + "}"}) == "0");
  CHECK(reports.Get(ids[2])->fields["review"] == "resolved");
  CHECK(reports.List(100) == std::vector<std::string>{ids[4], ids[3], ids[1], ids[0]});

  // A report that expired while its review waited is left out of the list.
  cluster.nodes[0]->Cmd({"DEL", "pd:" + ReportKeyName(ids[4])});
  CHECK(reports.List(100) == std::vector<std::string>{ids[3], ids[1], ids[0]});
}

}  // namespace policyd::test

namespace policyd::test {

TEST_CASE("reviews on one Redis: one queue pd:reviews, listed newest first, resolved") {
  OneRedisReports one;
  RedisServer& redis = one.redis;
  Reports reports(&one.store, [&one](std::function<bool()> done) { one.RunUntil(done); });
  std::vector<std::string> ids;
  for (const char* user : {"user:a", "user:b", "user:c"}) {
    ids.push_back(NewReportId());
    redis.Cmd({"HSET", "pd:report:" + ids.back(), "kind", "acl", "subject", user});
  }
  CHECK(reports.Get(ids[1])->fields["subject"] == "user:b");
  for (const std::string& id : ids) {
    CHECK(reports.Request(id) == "requested");
    std::this_thread::sleep_for(std::chrono::milliseconds(3));
  }
  CHECK(reports.Request(ids[0]) == "already");
  CHECK(redis.Cmd({"LRANGE", "pd:reviews", "0", "-1"}) ==
        std::vector<std::string>{ids[2], ids[1], ids[0]});
  CHECK(redis.Cmd({"KEYS", "pd:reviews:*"}).empty());
  CHECK(redis.Cmd({"KEYS", "pd:events:*"}).empty());
  CHECK(redis.CmdOne({"XLEN", "pd:events"}) == "3");
  CHECK(reports.List(100) == std::vector<std::string>{ids[2], ids[1], ids[0]});
  CHECK(reports.List(1) == std::vector<std::string>{ids[2]});
  CHECK(reports.Resolve(ids[1]) == "ok");
  CHECK(reports.Resolve(ids[1]) == "conflict");
  CHECK(reports.List(100) == std::vector<std::string>{ids[2], ids[0]});
}

}  // namespace policyd::test
