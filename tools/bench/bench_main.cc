// policyd-bench: load generator for Postfix policy servers (see BenchUsage), plus the
// helpers scripts/bench uses to set up Redis (seed), the redis-benchmark ceiling
// (decide-args) and the trivial DUNNO server row (dunno-server HOST:PORT).
// argv -> options -> run -> report.
#include <signal.h>
#include <sys/resource.h>

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "bench/bench_options.h"
#include "bench/bench_result.h"
#include "bench/decide_template.h"
#include "bench/dunno_server.h"
#include "bench/load_run.h"
#include "bench/seed_commands.h"
#include "core/config.h"

namespace {

using policyd::Config;
using policyd::Result;
namespace bench = policyd::bench;

int Fail(const std::string& message) {
  std::fprintf(stderr, "policyd-bench: %s\n", message.c_str());
  return 2;
}

int Seed(const bench::ToolOptions& o, const Config& config) {
  constexpr uint64_t kChunk = 10000;  // users per write: bounded memory for millions
  std::string out;
  for (uint64_t first = 0; first < o.users; first += kChunk) {
    out.clear();
    bench::AppendSeedCommands(config, o, first, std::min(kChunk, o.users - first), &out);
    if (std::fwrite(out.data(), 1, out.size(), stdout) != out.size()) return Fail("write failed");
  }
  return std::fflush(stdout) == 0 ? 0 : Fail("write failed");
}

int DecideArgs(const bench::ToolOptions& o, const Config& config) {
  auto args = bench::DecideArgsTemplate(config, o.stage == "eom", o.sender_domain);
  if (!args) return Fail(args.error().message);
  std::printf("%s\n", nlohmann::json(*args).dump().c_str());
  return 0;
}

int Tool(const std::string& verb, const std::vector<std::string>& args) {
  Result<bench::ToolOptions> o = bench::ParseToolOptions(args);
  if (!o) return Fail(o.error().message);
  Result<Config> config = policyd::LoadConfigFile(o->config_path);
  if (!config) return Fail(config.error().message);
  return verb == "seed" ? Seed(*o, *config) : DecideArgs(*o, *config);
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    std::fputs(bench::BenchUsage().c_str(), stdout);
    return 0;
  }
  if (args.size() == 2 && args[0] == "dunno-server") {
    signal(SIGPIPE, SIG_IGN);
    policyd::Status s = bench::RunDunnoServer(args[1]);
    return s.ok() ? 0 : Fail(s.error().message);
  }
  if (!args.empty() && (args[0] == "seed" || args[0] == "decide-args")) {
    return Tool(args[0], std::vector<std::string>(args.begin() + 1, args.end()));
  }
  Result<bench::BenchOptions> options = bench::ParseBenchOptions(args);
  if (!options) return Fail(options.error().message);
  signal(SIGPIPE, SIG_IGN);
  // Thousands of connections: use every descriptor allowed.
  if (rlimit lim; getrlimit(RLIMIT_NOFILE, &lim) == 0 && lim.rlim_cur < lim.rlim_max) {
    lim.rlim_cur = lim.rlim_max;
    setrlimit(RLIMIT_NOFILE, &lim);
  }
  bench::LoadRun run(*options);
  Result<bench::BenchResult> result = run.Run();
  if (!result) return Fail(result.error().message);
  std::string text = options->json ? bench::FormatJson(*result) + "\n" : bench::FormatText(*result);
  std::fputs(text.c_str(), stdout);
  return result->connected > 0 ? 0 : 1;
}
