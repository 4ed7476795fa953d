#include "core/review_queue.h"

#include <algorithm>
#include <set>
#include <string>

#include "core/cluster_slot.h"
#include "core/report_slot.h"

namespace policyd {
namespace {

// review_at as stored (decimal milliseconds); 0 for a missing or malformed one, which sorts it
// last rather than dropping a pending review.
uint64_t ReviewAt(const Report& report) {
  auto it = report.fields.find("review_at");
  if (it == report.fields.end() || it->second.empty() || it->second.size() > 19) return 0;
  uint64_t n = 0;
  for (char c : it->second) {
    if (c < '0' || c > '9') return 0;
    n = n * 10 + static_cast<uint64_t>(c - '0');
  }
  return n;
}

}  // namespace

std::string_view ReviewQueueTag(std::string_view prefix, std::string_view id) {
  return SlotTag(KeySlot(std::string(prefix) + ReportKeyName(id)));
}

std::vector<Report> MergeReviews(std::vector<std::vector<Report>> queues, std::size_t max) {
  std::vector<Report> all;
  std::set<std::string> seen;
  for (std::vector<Report>& queue : queues) {
    for (Report& report : queue) {
      if (seen.insert(report.id).second) all.push_back(std::move(report));
    }
  }
  std::stable_sort(all.begin(), all.end(), [](const Report& a, const Report& b) {
    uint64_t at = ReviewAt(a), bt = ReviewAt(b);
    return at != bt ? at > bt : a.id > b.id;
  });
  if (all.size() > max) all.resize(max);
  return all;
}

}  // namespace policyd
