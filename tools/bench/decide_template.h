// The redis-benchmark ceiling runs policyd's own decision script with policyd's own
// arguments: this builds decide.lua's ARGV exactly as policyd would for a benchmark request
// (BuildDecideArgs on a request from FormatRequest), then puts redis-benchmark's
// __rand_int__ placeholder where the user, the recipient and the message identity vary, so
// each call decides for a random seeded user and counts a new message. Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"

namespace policyd::bench {

// ARGV for `EVALSHA <decide sha> 0 ARGV...`. eom: an END-OF-MESSAGE with one recipient,
// else a RCPT. Errors if the config decides such a request without Redis.
Result<std::vector<std::string>> DecideArgsTemplate(const Config& config, bool eom,
                                                    std::string_view sender_domain);

}  // namespace policyd::bench
