// Process-local counters behind GET /metrics (Prometheus text format 0.0.4). Counters only
// grow; gauges are sampled at render time. Updated on the event loop thread only.
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace policyd {

// Upper bounds of the decision latency histogram, in microseconds.
inline constexpr std::array<uint64_t, 14> kLatencyBucketsUs = {
    100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 500000, 1000000,
    2500000};

struct Metrics {
  // (protocol_state, action) -> count; state is RCPT, END-OF-MESSAGE or other.
  std::map<std::pair<std::string, std::string>, uint64_t> requests;
  std::array<uint64_t, kLatencyBucketsUs.size()> latency_buckets{};  // non-cumulative
  uint64_t latency_count = 0;
  uint64_t latency_sum_us = 0;
  uint64_t redis_errors = 0;       // decisions that got no answer from Redis
  uint64_t failure_replies = 0;    // [failure] replies sent
  uint64_t connections_total = 0;  // accepted policy connections
  std::map<std::string, uint64_t> connection_closes;  // by reason class
  std::map<std::string, uint64_t> blocks_created;     // by reason
  std::map<std::string, uint64_t> signals_ingested;   // by kind
  std::map<std::string, uint64_t> rate_warnings;      // complaint/bounce rate warnings, by kind
  std::map<std::string, uint64_t> duplicate_feedback;  // feedback ids seen before, by kind
  std::map<std::string, uint64_t> quota_warnings;     // by level ("80"), issue 19
  std::map<std::pair<std::string, int>, uint64_t> http_requests;  // (route, status)
  // Local refusal cache (issue 16, lib/store/local_refusals.h).
  uint64_t refusal_cache_hits = 0;           // requests refused without Redis
  uint64_t refusal_cache_clears = 0;         // a non-empty cache emptied
  uint64_t cache_invalidations = 0;          // Redis invalidation messages heard
  // Both caches forgotten because what keeps them true was interrupted: a lost connection, a
  // listener not ready, a change of a cluster's primaries, a FLUSHALL; counted even when empty.
  uint64_t cache_resets = 0;
  uint64_t local_throttles_recorded = 0;     // local refusals recorded as throttles
  // Access cache (issue 16, lib/core/access_cache.h): decide's fast path.
  uint64_t access_cache_hits = 0;    // access cache passes: fast path or RCPT pre-check
  uint64_t access_cache_fills = 0;   // access_facts answers stored
  uint64_t access_cache_clears = 0;  // a non-empty access cache emptied
  // RCPT pre-checks of cached passes by path: "commands" (no script), "script" (decide.lua).
  std::map<std::string, uint64_t> rcpt_prechecks;
  // Webhook delivery attempts (issue 20): (endpoint, "delivered" | "retried" | "failed").
  std::map<std::pair<std::string, std::string>, uint64_t> webhook_deliveries;

  void RecordDecision(std::string_view state, std::string_view action, uint64_t latency_us);
};

struct MetricsGauges {
  uint64_t open_connections = 0;
  bool redis_up = false;
};

// One account's counts over [abuse] rate_window (account_rates.lua), read from Redis per
// scrape: an account's rate is exported, never blocked on (issue 18).
struct AccountRateRow {
  std::string account;  // SAFE_NAME, as stored
  uint64_t messages = 0;
  uint64_t complaints = 0;
  uint64_t bounces = 0;
};

// The accounts that had a complaint or bounce in the window, at most this many (newest first;
// the same cap trims pd:rated_accounts in _rates.lua).
inline constexpr std::size_t kMaxRatedAccounts = 1000;

// Adds every counter of `from` to `into` (several event loops, one /metrics).
void MergeMetrics(Metrics& into, const Metrics& from);

std::string RenderPrometheus(const Metrics& metrics, const MetricsGauges& gauges);

// policyd_account_messages, policyd_account_complaint_rate and policyd_account_bounce_rate,
// labelled by account; rates are ratios (0.005 = 0.5 %), left out for an account with no
// message counted in the window (no rate to state). Appended to RenderPrometheus's text when
// Redis answered; absent altogether when it did not.
std::string RenderAccountRates(const std::vector<AccountRateRow>& rows);

}  // namespace policyd
