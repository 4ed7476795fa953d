// The RCPT pre-check without a script (issue 16). With count_at = "eom" a RCPT decision is
// read-only: is there room for one more message with one more recipient? When the access cache
// has a plain pass for the request (so sections 1-3 of decide.lua pass, the resolved limits
// are known) and neither the user nor the account has a monthly quota, plain reads answer it:
// one EXISTS of the block keys decide.lua's read_block checks, and one HMGET of the windows'
// 'METRIC:WINDOW_S:total' fields per subject hash (pd:rate:{TAG}). A window's stored total is
// its sum as of its last write and only over-counts (expired buckets are subtracted lazily,
// _common.lua window_settle), so total + cost <= max for every limit means decide.lua would
// find room too: the answer is its DUNNO 'pre-check within limits'. Anything else (a block key
// exists, a limit without room, an error reply) is decided by decide.lua as before: it finds
// the block or the refusal with its retry_after and records the throttle.
// Pure: which keys and fields to read, and the verdict from the replies; the store sends them.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/access_cache.h"
#include "core/config.h"
#include "core/decide_args.h"
#include "core/verdict.h"

namespace policyd {

struct RcptPrecheck {
  std::vector<std::string> exists;  // "EXISTS", the block keys
  // "HMGET", a subject's pd:rate: key, the '...:total' fields (each window once).
  std::vector<std::vector<std::string>> reads;
  struct Check {
    std::size_t read = 0;   // index in reads
    std::size_t field = 0;  // index of the field in that HMGET's reply
    double cost = 0;
    double max = 0;
  };
  std::vector<Check> checks;  // one per limit this RCPT costs something under
  std::string domain;         // the verdict's sender domain (decide.lua's reply carries it)
};

// The reads for a request (its ReadDecideSubjects) decided under config in mode whose access
// facts are a pass; nullopt when the pre-check cannot be answered by reads: not a RCPT with
// count_at = "eom" in decide mode, the facts are not a plain pass, or a quota applies.
std::optional<RcptPrecheck> PlanRcptPrecheck(const AccessFacts& facts,
                                             const DecideSubjects& subjects,
                                             const Config& config, DecideMode mode);

// One HMGET's reply: each field's value, nullopt for nil.
using HashFields = std::vector<std::optional<std::string>>;

// Whether the replies show room under every limit and no block key: blocks is EXISTS's
// integer, totals[i] the reply of reads[i]. false: decide.lua must decide.
bool PrecheckHasRoom(const RcptPrecheck& precheck, long long blocks,
                     const std::vector<HashFields>& totals);

// decide.lua's reply for a pre-check with room: DUNNO 'pre-check within limits'.
Verdict PrecheckPassVerdict(const RcptPrecheck& precheck);

}  // namespace policyd
