// policyd-bench's command line. The load run: what to connect to, how many connections,
// closed loop (each connection sends its next request as soon as the reply arrives, as a busy
// Postfix does) or open loop at a fixed total rate, the request mix and how long to run. Two
// helper commands feed scripts/bench: `seed` (users for redis-cli --pipe) and `decide-args`
// (decide.lua's ARGV for redis-benchmark). Pure: parsed from argv with no I/O, tested in
// test/unit/bench/bench_options_test.cc.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "core/result.h"

namespace policyd::bench {

struct BenchOptions {
  // "HOST:PORT", "[IPv6]:PORT" or "unix:/path"; HOST is a numeric address or "localhost".
  std::string target = "127.0.0.1:10040";
  int connections = 8;            // persistent connections, 1..100000
  double rate = 0;                // total requests/s across connections; 0 = closed loop
  double duration_s = 10;         // measured time, after the warm-up (--idle: hold time)
  uint64_t requests = 0;          // stop after this many measured replies instead (0 = off)
  double warmup_s = 1;            // requests scheduled in the first warmup_s are not recorded
  double eom_ratio = 0.5;         // share of requests that are END-OF-MESSAGE (rest: RCPT)
  uint64_t users = 1000;          // distinct SMTP users (and senders, client IPs)
  std::string sender_domain = "example.com";  // every user's sender domain (seeded as granted)
  uint64_t seed = 1;              // workload random seed
  double timeout_s = 10;          // a reply slower than this is an error; the connection closes
  bool idle = false;              // open the connections, one request each, then hold them
  bool json = false;              // one JSON object on stdout instead of the text report
};

// Parses argv (without the program name). Errors name the option and what it accepts.
Result<BenchOptions> ParseBenchOptions(const std::vector<std::string>& args);

// `policyd-bench seed` and `policyd-bench decide-args`.
struct ToolOptions {
  std::string config_path = "conf/policyd.toml";  // for key_prefix, plans, [policy], [abuse]
  uint64_t users = 1000;
  uint64_t per_account = 100;   // users per account (seed)
  std::string plan;             // seed: the accounts' plan; "" = [policy] default_plan
  std::string sender_domain = "example.com";
  std::string stage = "eom";    // decide-args: "rcpt" or "eom"
};
Result<ToolOptions> ParseToolOptions(const std::vector<std::string>& args);

// The --help text.
std::string BenchUsage();

}  // namespace policyd::bench
