#include "bench/bench_result.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

namespace policyd::bench {
namespace {

// The percentiles reported everywhere, with their JSON names.
constexpr std::pair<double, const char*> kPercentiles[] = {
    {50, "p50"}, {90, "p90"}, {99, "p99"}, {99.9, "p999"}};

double Us(uint64_t ns) { return static_cast<double>(ns) / 1000.0; }

nlohmann::json LatencyJson(const Histogram& h) {
  nlohmann::json j = nlohmann::json::object();
  for (const auto& [p, name] : kPercentiles) j[std::string(name) + "_us"] = Us(h.Percentile(p));
  j["max_us"] = Us(h.max());
  j["mean_us"] = h.mean() / 1000.0;
  j["count"] = h.count();
  return j;
}

std::string LatencyLine(const char* title, const Histogram& h) {
  std::string s = fmt::format("  {:<22}", title);
  for (const auto& [p, name] : kPercentiles) {
    s += fmt::format(" {}={:.0f}us", name, Us(h.Percentile(p)));
  }
  s += fmt::format(" max={:.0f}us mean={:.0f}us\n", Us(h.max()), h.mean() / 1000.0);
  return s;
}

std::string Counts(const std::map<std::string, uint64_t>& m) {
  if (m.empty()) return "none";
  std::string s;
  for (const auto& [k, v] : m) s += fmt::format("{}{}={}", s.empty() ? "" : " ", k, v);
  return s;
}

}  // namespace

uint64_t BenchResult::ErrorCount() const {
  uint64_t n = 0;
  for (const auto& [k, v] : errors) n += v;
  return n;
}

std::string FormatText(const BenchResult& r) {
  const BenchOptions& o = r.options;
  std::string s = fmt::format(
      "policyd-bench: {} connections to {} ({} connected), {}, {} users, {:.0f}% "
      "END-OF-MESSAGE\n",
      o.connections, o.target, r.connected,
      o.idle ? "idle" : o.rate > 0 ? fmt::format("open loop at {:.0f} req/s", o.rate) : "closed loop",
      o.users, o.eom_ratio * 100);
  s += fmt::format("  measured               {} requests in {:.2f}s: {:.0f} requests/s\n",
                   r.measured, r.elapsed_s, r.RequestsPerSecond());
  s += LatencyLine(o.rate > 0 ? "latency (from schedule)" : "latency", r.latency);
  if (o.rate > 0) {
    s += LatencyLine("service (from send)", r.service);
    s += LatencyLine("send lag", r.send_lag);
  }
  s += fmt::format("  replies                {}\n", Counts(r.actions));
  s += fmt::format("  errors                 {}\n", Counts(r.errors));
  double cpu = r.cpu_user_s + r.cpu_sys_s;
  s += fmt::format(
      "  bench CPU              {:.2f}s user {:.2f}s sys over {:.2f}s ({:.0f}% of a core, "
      "{:.1f}us per reply)\n",
      r.cpu_user_s, r.cpu_sys_s, r.wall_s, r.wall_s > 0 ? cpu / r.wall_s * 100 : 0,
      r.replies ? cpu * 1e6 / r.replies : 0);
  return s;
}

std::string FormatJson(const BenchResult& r) {
  const BenchOptions& o = r.options;
  nlohmann::json j;
  j["target"] = o.target;
  j["connections"] = o.connections;
  j["connected"] = r.connected;
  j["mode"] = o.idle ? "idle" : o.rate > 0 ? "open" : "closed";
  j["rate"] = o.rate;
  j["users"] = o.users;
  j["eom_ratio"] = o.eom_ratio;
  j["elapsed_s"] = r.elapsed_s;
  j["requests"] = r.measured;
  j["replies_total"] = r.replies;
  j["rps"] = r.RequestsPerSecond();
  j["latency"] = LatencyJson(r.latency);
  if (o.rate > 0) {
    j["service"] = LatencyJson(r.service);
    j["send_lag"] = LatencyJson(r.send_lag);
  }
  j["actions"] = r.actions;
  j["errors"] = r.errors;
  j["error_count"] = r.ErrorCount();
  j["users_active"] = r.users_active;
  j["wall_s"] = r.wall_s;
  j["cpu_user_s"] = r.cpu_user_s;
  j["cpu_sys_s"] = r.cpu_sys_s;
  return j.dump();
}

}  // namespace policyd::bench
