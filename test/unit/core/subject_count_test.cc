// The pure part of a decision split by subject (issue 17): which subject_count calls a
// request makes, their arguments, and the combined verdict with the refunds it needs.
#include "core/subject_count.h"

#include "core/cluster_slot.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace policyd {
namespace {

using Status = SubjectOutcome::Status;
using Kind = CombinedVerdict::Kind;

SubjectOutcome Out(Status s, std::string metric = "") {
  SubjectOutcome o;
  o.status = s;
  o.metric = std::move(metric);
  return o;
}

TEST_CASE("subject_count: one call per subject, in first-seen order, with all its limits") {
  std::vector<TaggedLimit> limits = {
      {"user:alice", {"messages", 3600, 100}},
      {"account:acme", {"messages", 3600, 1000}},
      {"user:alice", {"recipients", 3600, 500}},
      {"", {"messages", 3600, 10}},             // no sender in this request
      {"ip:192.0.2.1", {"bytes", 86400, 1}},   // bytes cost 0 below: goes along (TTL)
      {"ip:192.0.2.1", {"messages", 60, 5}},
      {"sender:bob@example.com", {"bytes", 86400, 1}},  // costs nothing: no call
  };
  SubjectCosts costs{1, 3, 0};
  auto calls = PlanSubjectCalls(limits, costs);
  REQUIRE(calls.size() == 3);
  CHECK(calls[0].tag == "user:alice");
  REQUIRE(calls[0].limits.size() == 2);
  CHECK(calls[0].limits[1].metric == "recipients");
  CHECK(calls[1].tag == "account:acme");
  CHECK(calls[2].tag == "ip:192.0.2.1");
  REQUIRE(calls[2].limits.size() == 2);
  CHECK(calls[2].limits[0].window_s == 86400);
  CHECK(calls[2].limits[1].window_s == 60);

  SUBCASE("a request that touches no limit makes no call") {
    CHECK(PlanSubjectCalls(limits, SubjectCosts{}).empty());
  }
}

TEST_CASE("subject_count: ARGV of the count and the refund, route key in the subject's slot") {
  SubjectCallContext ctx;
  ctx.message_id = "m1";
  ctx.buckets = 60;
  ctx.reservation_ms = 300000;
  SubjectCall call{"user:alice", {{"messages", 3600, 100}, {"recipients", 60, 7}}};
  auto args = BuildSubjectCountArgs(ctx, call, SubjectCosts{1, 2, 300});
  std::vector<std::string> want = {"",  "pd:", "user:alice", "m1", "60",  "300000", "1",
                                   "2", "300", "",   "messages",   "3600", "100", "recipients",
                                   "60", "7"};
  CHECK(args == want);
  ctx.now_ms = 1700000000000;
  CHECK(BuildSubjectRefundArgs(ctx, "user:alice") ==
        std::vector<std::string>{"1700000000000", "pd:", "user:alice", "m1", "300000", ""});
  // count_at = rcpt: the RCPT's message, after the costs and at the refund's end.
  ctx.transaction_id = "t1";
  CHECK(BuildSubjectCountArgs(ctx, call, SubjectCosts{1, 2, 300})[9] == "t1");
  CHECK(BuildSubjectRefundArgs(ctx, "user:alice").back() == "t1");
  CHECK(SubjectRouteKey("pd:", "user:alice") == "pd:rate:{user:alice}");
}

TEST_CASE("subject_count: the keys a call declares, all in the subject's slot") {
  SubjectCallContext ctx;
  ctx.reservation_ms = 300000;
  // No time given (the script reads Redis TIME): the slices are unknown, the route key only.
  CHECK(SubjectCallKeys(ctx, "user:alice") == std::vector<std::string>{"pd:rate:{user:alice}"});
  ctx.now_ms = 1700000123456;  // slice 5666667 of 300 s
  std::vector<std::string> keys = SubjectCallKeys(ctx, "user:alice");
  CHECK(keys == std::vector<std::string>{"pd:rate:{user:alice}", "pd:resv:{user:alice}:5666667",
                                         "pd:resv:{user:alice}:5666666"});
  for (const std::string& k : keys) CHECK(KeySlot(k) == KeySlot("user:alice"));
  // At a slice's first millisecond the previous slice is the one just ended.
  ctx.now_ms = 5666667LL * 300000;
  CHECK(SubjectCallKeys(ctx, "ip:192.0.2.1")[2] == "pd:resv:{ip:192.0.2.1}:5666666");
}

TEST_CASE("subject_count: the combined verdict and its refunds") {
  SUBCASE("every subject counted: admitted, nothing refunded") {
    auto v = CombineSubjectOutcomes({Out(Status::kCounted), Out(Status::kCounted)});
    CHECK(v.kind == Kind::kAdmit);
    CHECK(v.refunds.empty());
  }
  SUBCASE("one refuses: the first refusal answers, every counted subject is refunded") {
    auto v = CombineSubjectOutcomes({Out(Status::kCounted), Out(Status::kRefused, "messages"),
                                     Out(Status::kRefused, "bytes"), Out(Status::kCounted)});
    CHECK(v.kind == Kind::kRefuse);
    CHECK(v.deciding == 1);
    CHECK(v.refunds == std::vector<size_t>{0, 3});
  }
  SUBCASE("a refusal outranks an earlier failure; the failed subject is refunded too") {
    auto v = CombineSubjectOutcomes(
        {Out(Status::kError), Out(Status::kCounted), Out(Status::kRefused)});
    CHECK(v.kind == Kind::kRefuse);
    CHECK(v.deciding == 2);
    CHECK(v.refunds == std::vector<size_t>{0, 1});
  }
  SUBCASE("a failure without a refusal: the failure reply, the others refunded") {
    auto v = CombineSubjectOutcomes({Out(Status::kCounted), Out(Status::kError)});
    CHECK(v.kind == Kind::kFailure);
    CHECK(v.deciding == 1);
    CHECK(v.refunds == std::vector<size_t>{0, 1});
  }
  SUBCASE("a subject already refunded: given up, never admitted, the others refunded") {
    auto v = CombineSubjectOutcomes({Out(Status::kCounted), Out(Status::kRefunded)});
    CHECK(v.kind == Kind::kGivenUp);
    CHECK(v.deciding == 1);
    CHECK(v.refunds == std::vector<size_t>{0});
  }
  SUBCASE("no subjects: admitted") {
    CHECK(CombineSubjectOutcomes({}).kind == Kind::kAdmit);
  }
}

}  // namespace
}  // namespace policyd
