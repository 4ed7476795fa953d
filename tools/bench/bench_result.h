// What one policyd-bench run measured, and its two renderings: a text report for people and
// one JSON object for scripts/bench. Latencies are nanoseconds in HdrHistogram-style
// histograms. Pure: the load run fills it, the formatters only read it.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "bench/bench_options.h"
#include "bench/histogram.h"

namespace policyd::bench {

struct BenchResult {
  BenchOptions options;
  int connected = 0;           // connections established at the start
  double elapsed_s = 0;        // from the end of the warm-up to the last measured reply
  uint64_t measured = 0;       // replies recorded in `latency`
  uint64_t replies = 0;        // all replies, warm-up included
  // Closed loop: from send to reply. Open loop: from the request's scheduled send time, so
  // time a request waited behind a slow reply counts (coordinated omission corrected).
  Histogram latency;
  // Open loop only: from the actual send to the reply (the server's share of `latency`).
  Histogram service;
  // Open loop only: how late requests left against their schedule (the generator's share).
  Histogram send_lag;
  std::map<std::string, uint64_t> actions;  // measured replies by ReplyLabel
  std::map<std::string, uint64_t> errors;   // "connect", "timeout", "closed", "bad_reply", "write"
  uint64_t users_active = 0;   // distinct users that sent an END-OF-MESSAGE (warm-up included)
  double wall_s = 0;           // whole run, connections and warm-up included
  double cpu_user_s = 0;       // this process, over wall_s
  double cpu_sys_s = 0;

  double RequestsPerSecond() const { return elapsed_s > 0 ? measured / elapsed_s : 0; }
  uint64_t ErrorCount() const;
};

// Multi-line human-readable report.
std::string FormatText(const BenchResult& r);
// One line of JSON: options, throughput, latency percentiles in microseconds, actions,
// errors, CPU. Keys are stable; scripts/bench reads them.
std::string FormatJson(const BenchResult& r);

}  // namespace policyd::bench
