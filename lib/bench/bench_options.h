// policyd-bench's command line: what to connect to, how many connections, closed loop (each
// connection sends its next request as soon as the reply arrives, as a busy Postfix does) or
// open loop at a fixed total rate, the request mix and how long to run. Pure: parsed from argv
// with no I/O, tested in test/unit/bench_options_test.cc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace policyd::bench {

struct BenchOptions {
  // "HOST:PORT", "[IPv6]:PORT" or "unix:/path". HOST is a numeric address or "localhost".
  std::string target = "127.0.0.1:10040";
  int connections = 8;            // persistent connections, 1..100000
  double rate = 0;                // total requests/s across connections; 0 = closed loop
  double duration_s = 10;         // measured time, after the warm-up
  uint64_t requests = 0;          // stop after this many measured replies instead (0 = off)
  double warmup_s = 1;            // replies in the first warmup_s seconds are not recorded
  double eom_ratio = 0.5;         // share of requests that are END-OF-MESSAGE (rest: RCPT)
  uint64_t users = 1000;          // distinct SMTP users (and senders, client IPs)
  uint64_t seed = 1;              // workload random seed (per connection: seed + index)
  double timeout_s = 10;          // a reply slower than this is an error; the connection closes
  bool idle = false;              // open the connections, one request each, then hold them
  bool json = false;              // one JSON object on stdout instead of the text report
};

// Parses argv (without the program name). Errors name the option and what it accepts.
Result<BenchOptions> ParseBenchOptions(const std::vector<std::string>& args);

// The --help text.
std::string BenchUsage();

}  // namespace policyd::bench
