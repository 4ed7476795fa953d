#include "ops/cluster_cursor.h"

#include <charconv>
#include <limits>

namespace policyd::ops {

std::optional<ClusterCursor> ParseClusterCursor(std::string_view text) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (text.empty() || text.size() > 20 || ec != std::errc() || p != text.data() + text.size()) {
    return std::nullopt;
  }
  return ClusterCursor{n / kMaxCursorPrimaries, static_cast<std::size_t>(n % kMaxCursorPrimaries)};
}

std::optional<std::string> NextClusterCursor(uint64_t next_scan, std::size_t primary,
                                             std::size_t primaries) {
  if (next_scan == 0) {
    if (primary + 1 >= primaries) return "0";
    return std::to_string(primary + 1);  // the next primary's walk, from its cursor 0
  }
  if (next_scan >= std::numeric_limits<uint64_t>::max() / kMaxCursorPrimaries) return std::nullopt;
  return std::to_string(next_scan * kMaxCursorPrimaries + primary);
}

}  // namespace policyd::ops
