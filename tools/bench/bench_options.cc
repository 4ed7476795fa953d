#include "bench/bench_options.h"

#include <fmt/format.h>

#include <charconv>
#include <cmath>

#include "core/listen_address.h"

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

Result<uint64_t> ParseCount(const std::string& name, const std::string& text, double lo,
                            double hi) {
  Result<double> v = ParseNumber(name, text, lo, hi);
  if (!v) return v.error();
  if (*v != std::floor(*v)) return Invalid(fmt::format("{}: '{}' is not a whole number", name, text));
  return static_cast<uint64_t>(*v);
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
  Result<double> v = ParseNumber(name, num, lo / scale, hi / scale);
  if (!v) return Invalid(fmt::format("{}: '{}' is not a duration in {}s..{}s", name, text, lo, hi));
  return *v * scale;
}

// The same forms policyd listens on; "localhost" stands for 127.0.0.1.
Status CheckTarget(const std::string& t) {
  Result<ListenAddress> a =
      ParseListenAddress(t.starts_with("localhost:") ? "127.0.0.1" + t.substr(9) : t);
  if (!a) return Invalid("--target: " + a.error().message);
  return Ok{};
}

bool ValidDomain(const std::string& d) {
  if (d.empty() || d.size() > 253 || d.front() == '.' || d.back() == '.') return false;
  for (char c : d) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-')) return false;
  }
  return true;
}

// Assigns the result of a parse to *out, or returns its error from the caller.
#define BENCH_ASSIGN(out, expr)      \
  do {                               \
    auto r_ = (expr);                \
    if (!r_) return r_.error();      \
    out = static_cast<decltype(out)>(*r_); \
  } while (0)

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
    if (a == "--target" || a == "-t") {
      if (Status st = CheckTarget(v); !st) return st.error();
      o.target = v;
    } else if (a == "--connections" || a == "-c") {
      BENCH_ASSIGN(o.connections, ParseCount(a, v, 1, 100000));
    } else if (a == "--rate" || a == "-r") {
      BENCH_ASSIGN(o.rate, ParseNumber(a, v, 0, 10000000));
    } else if (a == "--duration" || a == "-d") {
      BENCH_ASSIGN(o.duration_s, ParseSeconds(a, v, 0.001, 86400));
    } else if (a == "--requests" || a == "-n") {
      BENCH_ASSIGN(o.requests, ParseCount(a, v, 1, 1e12));
    } else if (a == "--warmup" || a == "-w") {
      BENCH_ASSIGN(o.warmup_s, ParseSeconds(a, v, 0, 3600));
    } else if (a == "--eom-ratio") {
      BENCH_ASSIGN(o.eom_ratio, ParseNumber(a, v, 0, 1));
    } else if (a == "--users" || a == "-u") {
      BENCH_ASSIGN(o.users, ParseCount(a, v, 1, 1e9));
    } else if (a == "--sender-domain") {
      if (!ValidDomain(v)) return Invalid(fmt::format("{}: '{}' is not a lower-case domain", a, v));
      o.sender_domain = v;
    } else if (a == "--seed") {
      BENCH_ASSIGN(o.seed, ParseCount(a, v, 0, 1e15));
    } else if (a == "--timeout") {
      BENCH_ASSIGN(o.timeout_s, ParseSeconds(a, v, 0.001, 3600));
    } else {
      return Invalid(fmt::format("unknown option '{}' (see --help)", a));
    }
  }
  return o;
}

Result<ToolOptions> ParseToolOptions(const std::vector<std::string>& args) {
  ToolOptions o;
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (i + 1 >= args.size()) return Invalid(fmt::format("{}: needs a value (see --help)", a));
    const std::string& v = args[++i];
    if (a == "-c" || a == "--config") {
      o.config_path = v;
    } else if (a == "--users" || a == "-u") {
      BENCH_ASSIGN(o.users, ParseCount(a, v, 1, 1e9));
    } else if (a == "--per-account") {
      BENCH_ASSIGN(o.per_account, ParseCount(a, v, 1, 1e9));
    } else if (a == "--plan") {
      o.plan = v;
    } else if (a == "--sender-domain") {
      if (!ValidDomain(v)) return Invalid(fmt::format("{}: '{}' is not a lower-case domain", a, v));
      o.sender_domain = v;
    } else if (a == "--stage") {
      if (v != "rcpt" && v != "eom") return Invalid(fmt::format("--stage: '{}' is not rcpt or eom", v));
      o.stage = v;
    } else {
      return Invalid(fmt::format("unknown option '{}' (see --help)", a));
    }
  }
  return o;
}

std::string BenchUsage() {
  return R"(usage: policyd-bench [options]
       policyd-bench seed -c POLICYD.TOML [--users U] [--per-account K] [--plan P]
                          [--sender-domain D] | redis-cli -p PORT --pipe
       policyd-bench decide-args -c POLICYD.TOML --stage rcpt|eom [--sender-domain D]

Drives a Postfix policy server with N persistent connections, each sending a request and
waiting for its reply, and prints throughput, latency percentiles, replies by action, errors
and its own CPU time.

  -t, --target ADDR      HOST:PORT, [IPv6]:PORT or unix:/path (default 127.0.0.1:10040)
  -c, --connections N    persistent connections (default 8)
  -r, --rate R           open loop: R requests/s in total, each connection at R/N with its
                         own phase; latency counts from each request's scheduled time, so a
                         slow reply is not hidden (no coordinated omission). Default 0:
                         closed loop, next request as soon as the reply arrives
  -d, --duration T       measured time after the warm-up: 10, 10s, 500ms, 2m (default 10s)
  -n, --requests N       stop after N measured requests instead
  -w, --warmup T         time before measuring starts (default 1s)
      --eom-ratio F      share of END-OF-MESSAGE requests, the rest RCPT (default 0.5)
  -u, --users U          distinct SMTP users u000000000000.. with their own senders and
                         client IPs (default 1000)
      --sender-domain D  the senders' domain (default example.com; seed grants it)
      --seed S           random seed (default 1)
      --timeout T        a reply slower than T is an error (default 10s)
      --idle             open the connections, send one request on each, print "ready" on
                         stderr, then hold them open for --duration (server memory)
      --json             print one JSON object instead of the text report

seed prints the Redis commands (RESP, for redis-cli --pipe) that create users
u000000000000.. with K users per account (a000000000000..), each account on plan P with
the sender domain verified and each user granted it, under the config's key_prefix.

decide-args prints, as a JSON array, the ARGV policyd passes to decide.lua for a request of
the benchmark's shape under the given config, with __rand_int__ where the user, recipient
and message identity vary (for redis-benchmark -r).
)";
}

}  // namespace policyd::bench
