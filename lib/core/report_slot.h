// Report ids that put the report's key in a chosen Redis Cluster slot (issue 17). A report is
// written by the same script call that refuses or blocks a subject, and on a cluster a script
// may only touch keys of one slot: the subject's. A slotted id is "<slot-tag>.<20 hex>", where
// the slot-tag is a short string whose CRC16 slot is the subject's, and its key puts the tag
// in braces: "pd:report:{<slot-tag>}.<20 hex>". The id stays opaque in the report URL (the
// HMAC covers all of it); an unslotted id (one Redis) keeps its key "pd:report:<20 hex>".
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace policyd {

// The shortest string of [0-9a-z] (1 to 4 characters; the first in length-then-alphabet order)
// whose slot, Crc16(tag) mod 16384, is `slot`. REQUIRES: slot < 16384.
std::string_view SlotTag(uint16_t slot);

// The slot-tag of the subject whose keys have hash tag `subject_tag` ("user:alice"):
// SlotTag(Crc16(subject_tag) mod 16384). On a cluster it names what a script call writes in the
// subject's slot that is not the subject's own (issue 17): report ids (NewReportId), the
// call's "home" (the outbox PREFIXevents:{TAG}, the expiry index PREFIXblock_expiries:{TAG};
// _common.lua emit_event).
std::string_view SubjectSlotTag(std::string_view subject_tag);

// The items of one batch whose subjects share a slot: on a cluster a script call may touch one
// slot only, so a batch (local throttles, signals) becomes one call per group, with `home` as
// the call's home ARGV. `items` are indexes into the batch, in batch order.
struct SlotGroup {
  std::string home;
  std::vector<std::size_t> items;
};
// One Redis (cluster false): a single group of every item, home ''. A cluster: one group per
// SubjectSlotTag of subject_tags[i], groups in order of first appearance.
std::vector<SlotGroup> GroupBySubjectSlot(const std::vector<std::string_view>& subject_tags,
                                          bool cluster);

// The slot-tag of a per-slot key "<head>{TAG}" (head e.g. "pd:events:", an outbox; or
// "pd:block_expiries:", an expiry index): TAG when the key is exactly that, with a TAG of 1 to
// 4 of [0-9a-z]; empty otherwise (a key found by SCAN is not trusted to be ours).
std::string_view KeySlotTag(std::string_view key, std::string_view head);

// The slot-tag of a slotted report id ("k3.<hex>" -> "k3"); empty for an unslotted one.
std::string_view ReportIdSlotTag(std::string_view id);

// The report's key after the key prefix: "report:{k3}.<hex>" or "report:<hex>".
std::string ReportKeyName(std::string_view id);

}  // namespace policyd
