// Review queues on a Redis Cluster (issue 17): which queue a request goes to, and the merge of
// every slot's queue into the operator's list.
#include "core/review_queue.h"

#include <doctest/doctest.h>

#include <string>

#include "core/cluster_slot.h"
#include "core/report_slot.h"

namespace policyd {
namespace {

Report Pending(std::string id, std::string review_at) {
  return Report{std::move(id), {{"review", "requested"}, {"review_at", std::move(review_at)}}, {}};
}

std::vector<std::string> Ids(const std::vector<Report>& reports) {
  std::vector<std::string> out;
  for (const Report& r : reports) out.push_back(r.id);
  return out;
}

TEST_CASE("review_queue: a slotted report's queue is its id's slot-tag, in the report's slot") {
  std::string tag(SubjectSlotTag("user:alice"));
  std::string id = tag + ".0123456789abcdef0123";
  CHECK(ReviewQueueTag("pd:", id) == tag);
  CHECK(KeySlot("pd:reviews:{" + std::string(ReviewQueueTag("pd:", id)) + "}") ==
        KeySlot("pd:" + ReportKeyName(id)));
  // A valid id whose tag is not the shortest for its slot: the queue is still in its slot.
  std::string odd = "zzzz.0123456789abcdef0123";
  CHECK(ReviewQueueTag("pd:", odd) != "zzzz");
  CHECK(KeySlot("pd:reviews:{" + std::string(ReviewQueueTag("pd:", odd)) + "}") == KeySlot("zzzz"));
}

TEST_CASE("review_queue: an unslotted report's queue shares the report key's slot, per prefix") {
  std::string id = "0123456789abcdef0123";
  for (const char* prefix : {"pd:", "other:"}) {
    CAPTURE(prefix);
    std::string_view tag = ReviewQueueTag(prefix, id);
    CHECK(KeySlot(std::string(prefix) + "reviews:{" + std::string(tag) + "}") ==
          KeySlot(std::string(prefix) + "report:" + id));
  }
}

TEST_CASE("review_queue: queues merge newest request first, each id once, at most max") {
  std::vector<std::vector<Report>> queues = {
      {Pending("a", "500"), Pending("b", "100")},
      {Pending("c", "400"), Pending("d", "300"), Pending("e", "50")},
      {},
      {Pending("c", "400"), Pending("d", "300"), Pending("e", "50")},  // SCAN gave it twice
  };
  CHECK(Ids(MergeReviews(queues, 10)) == std::vector<std::string>{"a", "c", "d", "b", "e"});
  CHECK(Ids(MergeReviews(queues, 3)) == std::vector<std::string>{"a", "c", "d"});
  CHECK(MergeReviews(queues, 0).empty());
  CHECK(MergeReviews({}, 5).empty());
}

TEST_CASE("review_queue: equal times order by id; a bad review_at sorts last, not dropped") {
  std::vector<std::vector<Report>> queues = {
      {Pending("x", "200"), Pending("bad", "2x0")},
      {Pending("y", "200"), Pending("none", "")},
      {Pending("huge", "123456789012345678901234")},
  };
  CHECK(Ids(MergeReviews(queues, 10)) == std::vector<std::string>{"y", "x", "none", "huge", "bad"});
}

}  // namespace
}  // namespace policyd
