#include "core/metrics.h"

#include <fmt/format.h>

namespace policyd {
namespace {

// Label values come from our own vocabulary, but escape anyway: a stray quote would break
// every scraper, not just one series.
std::string Label(std::string_view v) {
  std::string out;
  for (char c : v) {
    if (c == '\\' || c == '"') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out;
}

void Header(std::string& out, std::string_view name, std::string_view type,
            std::string_view help) {
  out += fmt::format("# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

// A metric with one unlabelled value: its header and its line.
template <typename T>
void Single(std::string& out, std::string_view name, std::string_view type, std::string_view help,
            T value) {
  Header(out, name, type, help);
  out += fmt::format("{} {}\n", name, value);
}

}  // namespace

void Metrics::RecordDecision(std::string_view state, std::string_view action,
                             uint64_t latency_us) {
  std::string s = (state == "RCPT" || state == "END-OF-MESSAGE") ? std::string(state) : "other";
  ++requests[{s, std::string(action)}];
  ++latency_count;
  latency_sum_us += latency_us;
  for (std::size_t i = 0; i < kLatencyBucketsUs.size(); ++i) {
    if (latency_us <= kLatencyBucketsUs[i]) {
      ++latency_buckets[i];
      return;
    }
  }
}

void MergeMetrics(Metrics& into, const Metrics& from) {
  for (const auto& [k, n] : from.requests) into.requests[k] += n;
  for (std::size_t i = 0; i < into.latency_buckets.size(); ++i) {
    into.latency_buckets[i] += from.latency_buckets[i];
  }
  into.latency_count += from.latency_count;
  into.latency_sum_us += from.latency_sum_us;
  into.redis_errors += from.redis_errors;
  into.failure_replies += from.failure_replies;
  into.connections_total += from.connections_total;
  for (const auto& [k, n] : from.connection_closes) into.connection_closes[k] += n;
  for (const auto& [k, n] : from.blocks_created) into.blocks_created[k] += n;
  for (const auto& [k, n] : from.signals_ingested) into.signals_ingested[k] += n;
  for (const auto& [k, n] : from.rate_warnings) into.rate_warnings[k] += n;
  for (const auto& [k, n] : from.duplicate_feedback) into.duplicate_feedback[k] += n;
  for (const auto& [k, n] : from.quota_warnings) into.quota_warnings[k] += n;
  for (const auto& [k, n] : from.http_requests) into.http_requests[k] += n;
  into.refusal_cache_hits += from.refusal_cache_hits;
  into.refusal_cache_clears += from.refusal_cache_clears;
  into.cache_invalidations += from.cache_invalidations;
  into.cache_resets += from.cache_resets;
  into.local_throttles_recorded += from.local_throttles_recorded;
  into.access_cache_hits += from.access_cache_hits;
  into.access_cache_fills += from.access_cache_fills;
  into.access_cache_clears += from.access_cache_clears;
  for (const auto& [k, n] : from.rcpt_prechecks) into.rcpt_prechecks[k] += n;
  for (const auto& [k, n] : from.webhook_deliveries) into.webhook_deliveries[k] += n;
}

std::string RenderPrometheus(const Metrics& m, const MetricsGauges& g) {
  std::string out;
  Header(out, "policyd_requests_total", "counter", "Policy requests answered, by state and action.");
  for (const auto& [key, n] : m.requests) {
    out += fmt::format("policyd_requests_total{{state=\"{}\",action=\"{}\"}} {}\n",
                       Label(key.first), Label(key.second), n);
  }
  Header(out, "policyd_decision_latency_seconds", "histogram",
         "Time from a complete request to its reply.");
  uint64_t cumulative = 0;
  for (std::size_t i = 0; i < kLatencyBucketsUs.size(); ++i) {
    cumulative += m.latency_buckets[i];
    out += fmt::format("policyd_decision_latency_seconds_bucket{{le=\"{}\"}} {}\n",
                       kLatencyBucketsUs[i] / 1e6, cumulative);
  }
  out += fmt::format("policyd_decision_latency_seconds_bucket{{le=\"+Inf\"}} {}\n",
                     m.latency_count);
  out += fmt::format("policyd_decision_latency_seconds_sum {}\n", m.latency_sum_us / 1e6);
  out += fmt::format("policyd_decision_latency_seconds_count {}\n", m.latency_count);
  Single(out, "policyd_redis_errors_total", "counter",
         "Decisions Redis did not answer (down, slow, or script error).", m.redis_errors);
  Single(out, "policyd_failure_replies_total", "counter",
         "[failure] replies sent.", m.failure_replies);
  Single(out, "policyd_connections_total", "counter",
         "Policy connections accepted.", m.connections_total);
  Single(out, "policyd_open_connections", "gauge",
         "Policy connections open now.", g.open_connections);
  Header(out, "policyd_redis_up", "gauge", "1 when the Redis connection is ready.");
  out += fmt::format("policyd_redis_up {}\n", g.redis_up ? 1 : 0);
  Header(out, "policyd_blocks_created_total", "counter",
         "Blocks this instance created (escalation and signals), by reason.");
  for (const auto& [reason, n] : m.blocks_created) {
    out += fmt::format("policyd_blocks_created_total{{reason=\"{}\"}} {}\n", Label(reason), n);
  }
  Header(out, "policyd_signals_total", "counter", "Abuse signals ingested, by kind.");
  for (const auto& [kind, n] : m.signals_ingested) {
    out += fmt::format("policyd_signals_total{{kind=\"{}\"}} {}\n", Label(kind), n);
  }
  Header(out, "policyd_rate_warnings_total", "counter",
         "Complaint or bounce rates that passed their warn level (event rate.warning), by kind.");
  for (const auto& [kind, n] : m.rate_warnings) {
    out += fmt::format("policyd_rate_warnings_total{{kind=\"{}\"}} {}\n", Label(kind), n);
  }
  Header(out, "policyd_duplicate_feedback_total", "counter",
         "Complaints and bounces whose feedback id was already counted, by kind.");
  for (const auto& [kind, n] : m.duplicate_feedback) {
    out += fmt::format("policyd_duplicate_feedback_total{{kind=\"{}\"}} {}\n", Label(kind), n);
  }
  Header(out, "policyd_quota_warnings_total", "counter",
         "Monthly quota warning levels crossed (each once per subject and period), by percent.");
  for (const auto& [percent, n] : m.quota_warnings) {
    out += fmt::format("policyd_quota_warnings_total{{percent=\"{}\"}} {}\n", Label(percent), n);
  }
  Header(out, "policyd_http_requests_total", "counter", "HTTP requests, by route and status.");
  for (const auto& [key, n] : m.http_requests) {
    out += fmt::format("policyd_http_requests_total{{route=\"{}\",status=\"{}\"}} {}\n",
                       Label(key.first), key.second, n);
  }
  Single(out, "policyd_refusal_cache_hits_total", "counter",
         "Requests refused from the local refusal cache, without Redis.", m.refusal_cache_hits);
  Single(out, "policyd_refusal_cache_clears_total", "counter",
         "Times a non-empty refusal cache was emptied (invalidation, lost connection, reload).",
         m.refusal_cache_clears);
  Single(out, "policyd_cache_invalidations_total", "counter",
         "Redis client-side caching invalidation messages received.", m.cache_invalidations);
  Single(out, "policyd_cache_resets_total", "counter",
         "Times the local caches were forgotten because what keeps them true was interrupted "
         "(a lost connection or listener, a change of a cluster's primaries, a FLUSHALL).",
         m.cache_resets);
  Single(out, "policyd_local_throttles_recorded_total", "counter",
         "Local refusals recorded in Redis as throttles (escalation).", m.local_throttles_recorded);
  Single(out, "policyd_access_cache_hits_total", "counter",
         "Requests the access cache knew to pass (blocks, user, IP allow-list, ACL): decided by "
         "decide.lua's fast path or, at RCPT, by the pre-check (policyd_rcpt_prechecks_total).",
         m.access_cache_hits);
  Single(out, "policyd_access_cache_fills_total", "counter",
         "access_facts answers stored in the access cache.", m.access_cache_fills);
  Single(out, "policyd_access_cache_clears_total", "counter",
         "Times a non-empty access cache was emptied (invalidation, lost connection, reload).",
         m.access_cache_clears);
  Header(out, "policyd_rcpt_prechecks_total", "counter",
         "RCPT pre-checks of access-cache passes, by path: commands (plain reads, no script) "
         "or script (decide.lua: a block, a full window, an error reply).");
  for (const auto& [path, n] : m.rcpt_prechecks) {
    out += fmt::format("policyd_rcpt_prechecks_total{{path=\"{}\"}} {}\n", Label(path), n);
  }
  Header(out, "policyd_webhook_deliveries_total", "counter",
         "Webhook delivery attempts, by endpoint and outcome (delivered, retried, failed).");
  for (const auto& [key, n] : m.webhook_deliveries) {
    out += fmt::format("policyd_webhook_deliveries_total{{endpoint=\"{}\",outcome=\"{}\"}} {}\n",
                       Label(key.first), Label(key.second), n);
  }
  return out;
}

std::string RenderAccountRates(const std::vector<AccountRateRow>& rows) {
  std::string out;
  Header(out, "policyd_account_messages", "gauge",
         "Messages counted for an account's users in the rate window ([abuse] rate_window), "
         "for accounts with a complaint or bounce in it.");
  for (const AccountRateRow& r : rows) {
    out += fmt::format("policyd_account_messages{{account=\"{}\"}} {}\n", Label(r.account),
                       r.messages);
  }
  auto rate = [&](std::string_view name, std::string_view what, auto count) {
    Header(out, name, "gauge",
           fmt::format("{} / messages of an account in the rate window, as a ratio (0.005 = "
                       "0.5 %); shown, never blocked on.", what));
    for (const AccountRateRow& r : rows) {
      if (r.messages == 0) continue;
      out += fmt::format("{}{{account=\"{}\"}} {}\n", name, Label(r.account),
                         static_cast<double>(count(r)) / static_cast<double>(r.messages));
    }
  };
  rate("policyd_account_complaint_rate", "Complaints",
       [](const AccountRateRow& r) { return r.complaints; });
  rate("policyd_account_bounce_rate", "Hard bounces",
       [](const AccountRateRow& r) { return r.bounces; });
  return out;
}

}  // namespace policyd
