// This host's wall clock in milliseconds since the epoch: what a decision on a Redis Cluster
// names its reservation slices by (one reading for every slot of a decision), and the time
// webhook deliveries and sender stamps are dated with.
#pragma once

#include <chrono>
#include <cstdint>

namespace policyd {

inline int64_t WallClockMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace policyd
