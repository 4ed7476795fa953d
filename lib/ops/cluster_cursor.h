// A block list cursor on a Redis Cluster (issue 17). One Redis pages through its blocks with
// SCAN's cursor; a cluster has one keyspace per primary, so a page is one SCAN on one primary
// and the cursor names both: the primary's index among the primaries sorted by address, and
// its SCAN cursor, as one decimal number, scan * 1000 + index. It keeps the shape of one
// Redis's cursor (digits; "0" starts a walk and ends it), so clients page alike on both.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

namespace policyd::ops {

constexpr std::size_t kMaxCursorPrimaries = 1000;

struct ClusterCursor {
  uint64_t scan = 0;        // the primary's SCAN cursor
  std::size_t primary = 0;  // index into the primaries sorted by address
};

// nullopt unless text is 1-20 digits of a number that fits in 64 bits.
std::optional<ClusterCursor> ParseClusterCursor(std::string_view text);

// The cursor of the page after one whose SCAN on primary `primary` (of `primaries`) answered
// `next_scan`: the same primary's walk goes on, or the next primary's starts, or "0" once the
// last one's ended. nullopt when next_scan is too large to encode (no Redis SCAN cursor is).
std::optional<std::string> NextClusterCursor(uint64_t next_scan, std::size_t primary,
                                             std::size_t primaries);

}  // namespace policyd::ops
