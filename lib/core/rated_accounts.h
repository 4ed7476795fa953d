// The account gauges of GET /metrics on a Redis Cluster (issue 17): the rated accounts live in
// one set per slot (PREFIXrated_accounts:{TAG}, beside the accounts' counters), so
// account_rates.lua answers per slot and policyd merges the answers as one Redis orders them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "core/metrics.h"

namespace policyd {

// One row of account_rates.lua with the time of the account's newest complaint or bounce.
struct RatedAccount {
  AccountRateRow row;
  uint64_t last_ms = 0;
};

// The rows of several slots (each newest first) merged newest first: by last_ms, the smaller
// account name first on a tie, each account once (SCAN may return a set twice), at most max.
std::vector<AccountRateRow> MergeRatedAccounts(std::vector<std::vector<RatedAccount>> slots,
                                               std::size_t max);

}  // namespace policyd
