// Slotted report ids (issue 17): the report key of a subject's report shares the subject's
// Redis Cluster slot. The slots below are real redis-server 7.0 CLUSTER KEYSLOT answers (see
// cluster_slot_test.cc); the rest follows from KeySlot, which is checked against them.
#include "core/report_slot.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "core/cluster_slot.h"
#include "core/report_token.h"

namespace policyd {
namespace {

TEST_CASE("report_slot: every slot has a tag of 1 to 4 of [0-9a-z] that hashes to it") {
  for (uint16_t slot = 0; slot < kClusterSlots; ++slot) {
    std::string_view tag = SlotTag(slot);
    REQUIRE(!tag.empty());
    REQUIRE(tag.size() <= 4);
    for (char c : tag) REQUIRE(((c >= '0' && c <= '9') || (c >= 'a' && c <= 'z')));
    REQUIRE(KeySlot("pd:report:{" + std::string(tag) + "}.0123456789abcdef0123") == slot);
  }
  CHECK(SlotTag(KeySlot("a")) == "a");  // shortest first
}

TEST_CASE("report_slot: a subject's report key lands in the subject's slot") {
  struct Case {
    const char* subject_tag;
    uint16_t slot;  // CLUSTER KEYSLOT of a key with that hash tag, from a real Redis
  };
  for (const Case& c :
       {Case{"user:alice", 4489}, Case{"user1000", 3443}, Case{"foo", 12182}, Case{"bar", 5061}}) {
    CAPTURE(c.subject_tag);
    for (int i = 0; i < 20; ++i) {
      std::string id = NewReportId(c.subject_tag);
      CAPTURE(id);
      REQUIRE(IsValidReportId(id));
      CHECK(id.size() == ReportIdSlotTag(id).size() + 1 + 20);
      CHECK(KeySlot("pd:" + ReportKeyName(id)) == c.slot);
      CHECK(KeySlot("pd:rate:{" + std::string(c.subject_tag) + "}:messages:3600") == c.slot);
    }
  }
}

TEST_CASE("report_slot: unslotted ids keep their one-Redis key") {
  CHECK(ReportIdSlotTag("0123456789abcdef0123").empty());
  CHECK(ReportKeyName("0123456789abcdef0123") == "report:0123456789abcdef0123");
  CHECK(ReportIdSlotTag("k3.0123456789abcdef0123") == "k3");
  CHECK(ReportKeyName("k3.0123456789abcdef0123") == "report:{k3}.0123456789abcdef0123");
}

TEST_CASE("report_slot: IsValidReportId takes a slot-tag of 1 to 4 of [0-9a-z], nothing else") {
  const char* hex = "0123456789abcdef0123";
  for (const char* tag : {"a", "z9", "abc", "0zz9"}) {
    CHECK(IsValidReportId(std::string(tag) + "." + hex));
  }
  for (const char* tag : {"", "abcde", "A", "a-b", "a}", "{a", "a.b", " a", "é"}) {
    CAPTURE(tag);
    CHECK_FALSE(IsValidReportId(std::string(tag) + "." + hex));
  }
  CHECK_FALSE(IsValidReportId("a.0123456789abcdef012"));
  CHECK_FALSE(IsValidReportId("a.0123456789abcdef0123.b"));
}

TEST_CASE("report_slot: a per-slot key's slot-tag, and only from a key of that shape") {
  CHECK(SubjectSlotTag("user:alice") == SlotTag(Crc16("user:alice") % kClusterSlots));
  std::string home(SubjectSlotTag("user:alice"));
  CHECK(KeySlotTag("pd:events:{" + home + "}", "pd:events:") == home);
  CHECK(KeySlotTag("pd:events:{zzzz}", "pd:events:") == "zzzz");
  for (const char* key : {"pd:events", "pd:events:", "pd:events:{}", "pd:events:{a", "pd:events:a}",
                          "pd:events:{abcde}", "pd:events:{A}", "pd:events:{a}:x",
                          "pd:events:{a-b}", "pd:events:{a}}", "x:events:{a}",
                          "pd:block_expiries:{a}"}) {
    CAPTURE(key);
    CHECK(KeySlotTag(key, "pd:events:").empty());
  }
}

TEST_CASE("report_slot: the auth covers the slot-tag") {
  std::string id = NewReportId("user:alice");
  std::string auth = ReportAuth("sixteen byte key", id);
  CHECK(VerifyReportAuth("sixteen byte key", id, auth));
  std::string other = "b" + id.substr(id.find('.'));
  CHECK_FALSE(VerifyReportAuth("sixteen byte key", other, auth));
  CHECK(ReportAuth("sixteen byte key", id.substr(id.find('.') + 1)) != auth);
}

TEST_CASE("report_slot: a batch grouped by its subjects' slots, one group on one Redis") {
  std::vector<std::string_view> tags = {"user:alice", "user:bob", "user:alice", "sender:x@y"};
  std::vector<SlotGroup> one = GroupBySubjectSlot(tags, false);
  REQUIRE(one.size() == 1);
  CHECK(one[0].home.empty());
  CHECK(one[0].items == std::vector<std::size_t>{0, 1, 2, 3});

  std::vector<SlotGroup> groups = GroupBySubjectSlot(tags, true);
  REQUIRE(groups.size() == 3);  // alice, bob and x@y are in three different slots
  CHECK(groups[0].home == SubjectSlotTag("user:alice"));
  CHECK(groups[0].items == std::vector<std::size_t>{0, 2});
  CHECK(groups[1].home == SubjectSlotTag("user:bob"));
  CHECK(groups[1].items == std::vector<std::size_t>{1});
  CHECK(groups[2].items == std::vector<std::size_t>{3});
  for (const SlotGroup& g : groups) {
    for (std::size_t i : g.items) CHECK(KeySlot(g.home) == KeySlot(tags[i]));
  }
  CHECK(GroupBySubjectSlot({}, true).empty());
}

}  // namespace
}  // namespace policyd
