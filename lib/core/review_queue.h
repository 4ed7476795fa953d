// Review requests on a Redis Cluster (issue 17). One Redis keeps one queue of pending reviews,
// PREFIXreviews; a cluster keeps one per slot, PREFIXreviews:{TAG}, written by review.lua in the
// same call as the report it names (so in the report's slot), and the operator's list reads
// every slot's queue (found by SCAN on each primary) and merges them here.
#pragma once

#include <cstddef>
#include <string_view>
#include <vector>

#include "core/report_page.h"

namespace policyd {

// The slot-tag of the queue (and the outbox of review.requested) that a review request of
// report `id` goes to on a cluster: the tag of the report key's slot, SlotTag(KeySlot(prefix +
// ReportKeyName(id))). For the slotted ids policyd makes that is the id's own slot-tag; an
// unslotted id (a report written before the cluster) still gets a queue in its report's slot.
std::string_view ReviewQueueTag(std::string_view prefix, std::string_view id);

// The reports of several queues (each as review_list.lua lists it, newest request first)
// merged newest request first: by review_at (milliseconds), the larger id first on a tie, each
// id once (a queue may be listed twice: SCAN may return a key twice), at most max.
std::vector<Report> MergeReviews(std::vector<std::vector<Report>> queues, std::size_t max);

}  // namespace policyd
