// The customers a benchmark needs in Redis for policyd's decisions to be real ones (user
// record, account, plan, verified domain, grant), as RESP commands for `redis-cli --pipe`.
// User i is UserName(i) in account "a" + 12 digits (i / per_account); every account verifies
// the one sender domain and every user is granted it (explicit mode, the strictest ACL path),
// so the benchmark's requests pass the ACL and reach the rate limits. Keys come from
// redis_keys.h, so the layout is the one docs/redis-keys.md documents. Pure.
#pragma once

#include <cstdint>
#include <string>

#include "bench/bench_options.h"
#include "core/config.h"

namespace policyd::bench {

// Account of user `index`: "a" + 12 digits.
std::string AccountName(uint64_t user_index, uint64_t per_account);

// Appends the commands for users [first, first + count) to *out (and their accounts, each
// once: with the account's first user). Call repeatedly to stream a large population.
void AppendSeedCommands(const Config& config, const ToolOptions& options, uint64_t first,
                        uint64_t count, std::string* out);

}  // namespace policyd::bench
