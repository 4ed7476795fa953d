// The physical limit row of scripts/bench (issue 16): a policy server that answers every
// request "action=DUNNO" without looking at it, on the same loopback, load generator and
// connections as policyd. It only finds where a request ends (an empty line) so that it
// answers once per request, in order, even when a client pipelines. One thread, one libuv
// loop, like one policyd loop.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

#include "core/result.h"

namespace policyd::bench {

// How many requests end in `bytes` (an empty line: "\n\n"), carrying whether the previous
// read ended in '\n' in *last_was_newline, so that an end split across reads counts once.
std::size_t CountRequestEnds(std::string_view bytes, bool* last_was_newline);

// Listens on "HOST:PORT" (numeric IPv4 or IPv6 in brackets) and serves until SIGINT or
// SIGTERM. Writes "ready PORT\n" to stderr once listening. Errors: the address, or libuv's.
Status RunDunnoServer(const std::string& listen);

}  // namespace policyd::bench
