#include "bench/bench_options.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

namespace policyd::bench {
namespace {

Result<double> ParseNumber(const std::string& name, const std::string& text, double lo,
                           double hi) {
  double v = 0;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
  if (ec != std::errc() || end != text.data() + text.size() || !std::isfinite(v) || v < lo ||
      v > hi) {
    return Invalid(fmt::format("{}: '{}' is not a number in {}..{}", name, text, lo, hi));
  }
  return v;
}

// "10", "10s", "500ms", "2m": a duration in seconds.
Result<double> ParseSeconds(const std::string& name, const std::string& text, double lo,
                            double hi) {
  std::string num = text;
  double scale = 1;
  if (num.size() > 2 && num.ends_with("ms")) {
    num.resize(num.size() - 2);
    scale = 0.001;
  } else if (num.size() > 1 && num.back() == 's') {
    num.pop_back();
  } else if (num.size() > 1 && num.back() == 'm') {
    num.pop_back();
    scale = 60;
  }
  auto v = ParseNumber(name, num, lo / scale, hi / scale);
  if (!v) return Invalid(fmt::format("{}: '{}' is not a duration in {}s..{}s", name, text, lo, hi));
  return *v * scale;
}

bool ValidTarget(const std::string& t) {
  if (t.starts_with("unix:")) return t.size() > 5;
  auto colon = t.rfind(':');
  return colon != std::string::npos && colon > 0 && colon + 1 < t.size();
}

}  // namespace

Result<BenchOptions> ParseBenchOptions(const std::vector<std::string>& args) {
  BenchOptions o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "--json") {
      o.json = true;
      continue;
    }
    if (a == "--idle") {
      o.idle = true;
      continue;
    }
    if (i + 1 >= args.size()) return Invalid(fmt::format("{}: needs a value (see --help)", a));
    const std::string& v = args[++i];
    Result<double> n = 0.0;
    if (a == "--target" || a == "-t") {
      if (!ValidTarget(v)) {
        return Invalid(fmt::format("--target: '{}' is not HOST:PORT or unix:/path", v));
      }
      o.target = v;
    } else if (a == "--connections" || a == "-c") {
      if (!(n = ParseNumber(a, v, 1, 100000))) return n.error();
      o.connections = static_cast<int>(*n);
    } else if (a == "--rate" || a == "-r") {
      if (!(n = ParseNumber(a, v, 0, 10000000))) return n.error();
      o.rate = *n;
    } else if (a == "--duration" || a == "-d") {
      if (!(n = ParseSeconds(a, v, 0.001, 86400))) return n.error();
      o.duration_s = *n;
    } else if (a == "--requests" || a == "-n") {
      if (!(n = ParseNumber(a, v, 1, 1e12))) return n.error();
      o.requests = static_cast<uint64_t>(*n);
    } else if (a == "--warmup" || a == "-w") {
      if (!(n = ParseSeconds(a, v, 0, 3600))) return n.error();
      o.warmup_s = *n;
    } else if (a == "--eom-ratio") {
      if (!(n = ParseNumber(a, v, 0, 1))) return n.error();
      o.eom_ratio = *n;
    } else if (a == "--users" || a == "-u") {
      if (!(n = ParseNumber(a, v, 1, 1e9))) return n.error();
      o.users = static_cast<uint64_t>(*n);
    } else if (a == "--seed") {
      if (!(n = ParseNumber(a, v, 0, 1e15))) return n.error();
      o.seed = static_cast<uint64_t>(*n);
    } else if (a == "--timeout") {
      if (!(n = ParseSeconds(a, v, 0.001, 3600))) return n.error();
      o.timeout_s = *n;
    } else {
      return Invalid(fmt::format("unknown option '{}' (see --help)", a));
    }
  }
  return o;
}

std::string BenchUsage() {
  return R"(usage: policyd-bench [options]
       policyd-bench decide-args -c POLICYD.TOML --stage rcpt|eom

Drives a Postfix policy server with N persistent connections, each sending a request and
waiting for its reply, and prints throughput, latency percentiles, replies by action, errors
and its own CPU time.

  -t, --target ADDR      HOST:PORT, [IPv6]:PORT or unix:/path (default 127.0.0.1:10040)
  -c, --connections N    persistent connections (default 8)
  -r, --rate R           open loop: R requests/s in total, at fixed intervals; latency counts
                         from each request's scheduled time (no coordinated omission).
                         Default 0: closed loop, next request as soon as the reply arrives
  -d, --duration T       measured time after the warm-up: 10, 10s, 500ms, 2m (default 10s)
  -n, --requests N       stop after N measured replies instead
  -w, --warmup T         time before measuring starts (default 1s)
      --eom-ratio F      share of END-OF-MESSAGE requests, the rest RCPT (default 0.5)
  -u, --users U          distinct SMTP users u000000000000.. (and senders, client IPs)
                         (default 1000)
      --seed S           random seed (default 1)
      --timeout T        a reply slower than T is an error (default 10s)
      --idle             open the connections, send one request on each, then hold them
                         open for --duration (for measuring the server's memory)
      --json             print one JSON object instead of the text report

decide-args prints, one per line, the ARGV that policyd passes to decide.lua for a request
of the benchmark's shape under the given config, with __rand_int__ where the user and the
message identity vary (for redis-benchmark).
)";
}

}  // namespace policyd::bench
