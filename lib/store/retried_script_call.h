// A script call sent again at once when it fails, for the calls whose effect must land and
// that are idempotent: the cluster decision's and the quotas' refunds (issue 17). Immediate,
// not delayed: a primary that is failing over makes the ClusterClient hold the call until its
// deadline, so an immediate retry already waits.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "store/cluster_decision.h"

namespace policyd {

// How a retried call ended: its last reply (an Error when every attempt failed) and how many
// attempts came after the first.
struct RetriedReply {
  Result<RedisValue> reply;
  int retries = 0;
};

// Runs script `name` through `call` (which must outlive the call), up to `attempts` times
// in all while it answers an Error; `done` runs exactly once.
void CallRetrying(const SubjectScriptCall* call, std::string_view name,
                  std::vector<std::string> keys, std::vector<std::string> args,
                  uint64_t timeout_ms, int attempts, std::function<void(RetriedReply)> done);

}  // namespace policyd
