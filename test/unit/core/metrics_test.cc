// Process metrics: decisions land in the right histogram bucket, and /metrics renders the
// Prometheus text format with HELP/TYPE lines, cumulative buckets and +Inf equal to the count.
#include "core/metrics.h"

#include <doctest/doctest.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

namespace policyd {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

// "name{labels} value" -> value, for the first line starting with `series ` exactly.
std::string ValueOf(const std::string& text, const std::string& series) {
  for (const std::string& line : Lines(text)) {
    if (line.rfind(series + " ", 0) == 0) return line.substr(series.size() + 1);
  }
  return "<missing>";
}

}  // namespace

TEST_CASE("metrics: RecordDecision counts each latency in the first bucket that holds it") {
  struct Case {
    uint64_t us;
    int bucket;  // index into kLatencyBucketsUs, -1 for above the last bound
  };
  std::vector<Case> cases = {
      {0, 0},      {100, 0},     {101, 1},        {250, 1},        {251, 2},
      {1000, 3},   {1001, 4},    {2500000, 13},   {2500001, -1},   {UINT64_MAX, -1},
  };
  for (const Case& c : cases) {
    CAPTURE(c.us);
    Metrics m;
    m.RecordDecision("RCPT", "dunno", c.us);
    CHECK(m.latency_count == 1);
    CHECK(m.latency_sum_us == c.us);
    for (std::size_t i = 0; i < kLatencyBucketsUs.size(); ++i) {
      CHECK(m.latency_buckets[i] == (static_cast<int>(i) == c.bucket ? 1u : 0u));
    }
  }
}

TEST_CASE("metrics: RecordDecision keys requests by state (others folded) and action") {
  Metrics m;
  m.RecordDecision("RCPT", "dunno", 1);
  m.RecordDecision("RCPT", "dunno", 1);
  m.RecordDecision("END-OF-MESSAGE", "rate", 1);
  m.RecordDecision("DATA", "dunno", 1);
  m.RecordDecision("", "dunno", 1);
  m.RecordDecision("rcpt", "dunno", 1);
  std::map<std::pair<std::string, std::string>, uint64_t> want = {
      {{"RCPT", "dunno"}, 2}, {{"END-OF-MESSAGE", "rate"}, 1}, {{"other", "dunno"}, 3}};
  CHECK(m.requests == want);
  CHECK(m.latency_count == 6);
}

TEST_CASE("metrics: every family has HELP and TYPE lines before its samples") {
  Metrics m;
  m.RecordDecision("RCPT", "acl", 300);
  m.blocks_created["spam"] = 2;
  m.signals_ingested["complaint"] = 3;
  m.http_requests[{"/report", 200}] = 4;
  m.connection_closes["eof"] = 1;
  // The account families (issue 18) are appended when Redis answered the scrape's read.
  std::string text = RenderPrometheus(m, {}) + RenderAccountRates({{"acme", 1000, 6, 2}});
  std::vector<std::string> lines = Lines(text);
  REQUIRE(!lines.empty());
  CHECK(text.back() == '\n');
  std::map<std::string, std::string> types;
  for (std::size_t i = 0; i < lines.size(); ++i) {
    const std::string& line = lines[i];
    CAPTURE(line);
    if (line.rfind("# HELP ", 0) == 0) {
      std::string name = line.substr(7, line.find(' ', 7) - 7);
      REQUIRE(i + 1 < lines.size());
      std::string type_line = lines[i + 1];
      REQUIRE(type_line.rfind("# TYPE " + name + " ", 0) == 0);
      types[name] = type_line.substr(8 + name.size());
      continue;
    }
    if (line.rfind("# TYPE ", 0) == 0) continue;
    // A sample: its family was declared above it.
    std::string name = line.substr(0, line.find_first_of("{ "));
    bool declared = false;
    for (const auto& [family, type] : types) {
      if (name == family ||
          (type == "histogram" && (name == family + "_bucket" || name == family + "_sum" ||
                                   name == family + "_count"))) {
        declared = true;
      }
    }
    CHECK(declared);
  }
  std::map<std::string, std::string> want = {
      {"policyd_requests_total", "counter"},
      {"policyd_decision_latency_seconds", "histogram"},
      {"policyd_redis_errors_total", "counter"},
      {"policyd_failure_replies_total", "counter"},
      {"policyd_connections_total", "counter"},
      {"policyd_open_connections", "gauge"},
      {"policyd_redis_up", "gauge"},
      {"policyd_blocks_created_total", "counter"},
      {"policyd_signals_total", "counter"},
      {"policyd_rate_warnings_total", "counter"},
      {"policyd_duplicate_feedback_total", "counter"},
      {"policyd_quota_warnings_total", "counter"},
      {"policyd_http_requests_total", "counter"},
      {"policyd_refusal_cache_hits_total", "counter"},
      {"policyd_refusal_cache_clears_total", "counter"},
      {"policyd_cache_invalidations_total", "counter"},
      {"policyd_cache_resets_total", "counter"},
      {"policyd_local_throttles_recorded_total", "counter"},
      {"policyd_access_cache_hits_total", "counter"},
      {"policyd_access_cache_fills_total", "counter"},
      {"policyd_access_cache_clears_total", "counter"},
      {"policyd_rcpt_prechecks_total", "counter"},
      {"policyd_webhook_deliveries_total", "counter"},
      {"policyd_account_messages", "gauge"},
      {"policyd_account_complaint_rate", "gauge"},
      {"policyd_account_bounce_rate", "gauge"},
  };
  CHECK(types == want);
}

TEST_CASE("metrics: issue 18: account rates are ratios of the window's messages, per account") {
  std::string text = RenderAccountRates(
      {{"acme", 1000, 6, 2}, {"beta.example", 200, 0, 10}, {"quiet", 0, 3, 1}});
  CHECK(ValueOf(text, "policyd_account_messages{account=\"acme\"}") == "1000");
  CHECK(ValueOf(text, "policyd_account_complaint_rate{account=\"acme\"}") == "0.006");
  CHECK(ValueOf(text, "policyd_account_bounce_rate{account=\"acme\"}") == "0.002");
  CHECK(ValueOf(text, "policyd_account_complaint_rate{account=\"beta.example\"}") == "0");
  CHECK(ValueOf(text, "policyd_account_bounce_rate{account=\"beta.example\"}") == "0.05");
  // No message counted in the window: its volume is shown, a rate of x / 0 is not.
  CHECK(ValueOf(text, "policyd_account_messages{account=\"quiet\"}") == "0");
  CHECK(ValueOf(text, "policyd_account_complaint_rate{account=\"quiet\"}") == "<missing>");
  CHECK(ValueOf(text, "policyd_account_bounce_rate{account=\"quiet\"}") == "<missing>");
  // Label values are escaped as every other label is.
  std::string odd = RenderAccountRates({{"a\"b\\c", 10, 1, 0}});
  CHECK(ValueOf(odd, "policyd_account_messages{account=\"a\\\"b\\\\c\"}") == "10");
  // No account with a complaint or bounce: the families are declared, with no sample.
  std::string none = RenderAccountRates({});
  CHECK(none.find("# TYPE policyd_account_complaint_rate gauge\n") != std::string::npos);
  CHECK(none.find("policyd_account_messages{") == std::string::npos);
}

TEST_CASE("metrics: issue 20: webhook deliveries are merged across loops and rendered") {
  Metrics a, b;
  a.webhook_deliveries[{"crm", "delivered"}] = 2;
  b.webhook_deliveries[{"crm", "delivered"}] = 3;
  b.webhook_deliveries[{"crm", "failed"}] = 1;
  MergeMetrics(a, b);
  std::string text = RenderPrometheus(a, {});
  CHECK(text.find("policyd_webhook_deliveries_total{endpoint=\"crm\",outcome=\"delivered\"} 5\n") !=
        std::string::npos);
  CHECK(text.find("policyd_webhook_deliveries_total{endpoint=\"crm\",outcome=\"failed\"} 1\n") !=
        std::string::npos);
}

TEST_CASE("metrics: issue 16: refusal cache counters are merged across loops and rendered") {
  Metrics a, b;
  a.refusal_cache_hits = 5;
  b.refusal_cache_hits = 7;
  b.refusal_cache_clears = 2;
  b.cache_invalidations = 3;
  b.local_throttles_recorded = 11;
  MergeMetrics(a, b);
  std::string text = RenderPrometheus(a, {});
  CHECK(ValueOf(text, "policyd_refusal_cache_hits_total") == "12");
  CHECK(ValueOf(text, "policyd_refusal_cache_clears_total") == "2");
  CHECK(ValueOf(text, "policyd_cache_invalidations_total") == "3");
  CHECK(ValueOf(text, "policyd_local_throttles_recorded_total") == "11");
}

TEST_CASE("metrics: histogram buckets are cumulative and +Inf equals the count") {
  Metrics m;
  for (uint64_t us : {50, 100, 200, 900, 3000, 3000, 2000000, 9000000}) {
    m.RecordDecision("RCPT", "dunno", us);
  }
  std::string text = RenderPrometheus(m, {});
  const std::string b = "policyd_decision_latency_seconds_bucket";
  CHECK(ValueOf(text, b + "{le=\"0.0001\"}") == "2");
  CHECK(ValueOf(text, b + "{le=\"0.00025\"}") == "3");
  CHECK(ValueOf(text, b + "{le=\"0.001\"}") == "4");
  CHECK(ValueOf(text, b + "{le=\"0.005\"}") == "6");
  CHECK(ValueOf(text, b + "{le=\"2.5\"}") == "7");
  CHECK(ValueOf(text, b + "{le=\"+Inf\"}") == "8");
  CHECK(ValueOf(text, "policyd_decision_latency_seconds_count") == "8");
  CHECK(ValueOf(text, "policyd_decision_latency_seconds_sum") == "11.00725");

  // Monotonic over all bounds, in order, ending with +Inf.
  uint64_t last = 0;
  std::size_t buckets = 0;
  std::string last_le;
  for (const std::string& line : Lines(text)) {
    if (line.rfind(b + "{", 0) != 0) continue;
    ++buckets;
    uint64_t v = std::stoull(line.substr(line.rfind(' ') + 1));
    CHECK(v >= last);
    last = v;
    last_le = line.substr(b.size(), line.find('}') - b.size() + 1);
  }
  CHECK(buckets == kLatencyBucketsUs.size() + 1);
  CHECK(last_le == "{le=\"+Inf\"}");
  CHECK(last == m.latency_count);
}

TEST_CASE("metrics: an empty registry renders zeros and gauges from the caller") {
  std::string text = RenderPrometheus(Metrics{}, {7, true});
  CHECK(ValueOf(text, "policyd_decision_latency_seconds_bucket{le=\"+Inf\"}") == "0");
  CHECK(ValueOf(text, "policyd_decision_latency_seconds_count") == "0");
  CHECK(ValueOf(text, "policyd_redis_errors_total") == "0");
  CHECK(ValueOf(text, "policyd_open_connections") == "7");
  CHECK(ValueOf(text, "policyd_redis_up") == "1");
  CHECK(ValueOf(RenderPrometheus(Metrics{}, {}), "policyd_redis_up") == "0");
}

TEST_CASE("metrics: labelled series render with escaped label values") {
  Metrics m;
  m.RecordDecision("END-OF-MESSAGE", "block", 1);
  m.redis_errors = 3;
  m.failure_replies = 2;
  m.connections_total = 9;
  m.blocks_created["spam"] = 2;
  m.blocks_created["we\"ird\\\nreason"] = 1;
  m.signals_ingested["complaint"] = 3;
  m.http_requests[{"/report", 404}] = 4;
  std::string text = RenderPrometheus(m, {});
  CHECK(ValueOf(text, "policyd_requests_total{state=\"END-OF-MESSAGE\",action=\"block\"}") == "1");
  CHECK(ValueOf(text, "policyd_redis_errors_total") == "3");
  CHECK(ValueOf(text, "policyd_failure_replies_total") == "2");
  CHECK(ValueOf(text, "policyd_connections_total") == "9");
  CHECK(ValueOf(text, "policyd_blocks_created_total{reason=\"spam\"}") == "2");
  CHECK(ValueOf(text, "policyd_blocks_created_total{reason=\"we\\\"ird\\\\\\nreason\"}") == "1");
  CHECK(ValueOf(text, "policyd_signals_total{kind=\"complaint\"}") == "3");
  CHECK(ValueOf(text, "policyd_http_requests_total{route=\"/report\",status=\"404\"}") == "4");
  for (const std::string& line : Lines(text)) CHECK(!line.empty());  // no raw newline leaked
}

}  // namespace policyd
