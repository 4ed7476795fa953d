// policyd-bench's options: defaults, units and errors that name the option.
#include "bench/bench_options.h"

#include <doctest/doctest.h>

namespace policyd::bench {

TEST_CASE("bench options: defaults and a full command line") {
  auto d = ParseBenchOptions({});
  REQUIRE(d.ok());
  CHECK(d->connections == 8);
  CHECK(d->rate == 0);
  auto o = ParseBenchOptions({"-t", "[::1]:10040", "-c", "64", "--rate", "5000", "-d", "500ms",
                              "-w", "2s", "--eom-ratio", "0.25", "-u", "100000", "--json",
                              "--sender-domain", "bench.example", "--timeout", "1m"});
  REQUIRE(o.ok());
  CHECK(o->target == "[::1]:10040");
  CHECK(o->connections == 64);
  CHECK(o->rate == 5000);
  CHECK(o->duration_s == doctest::Approx(0.5));
  CHECK(o->warmup_s == 2);
  CHECK(o->eom_ratio == 0.25);
  CHECK(o->users == 100000);
  CHECK(o->json);
  CHECK(o->sender_domain == "bench.example");
  CHECK(o->timeout_s == 60);
  CHECK(ParseBenchOptions({"-t", "localhost:10040"}).ok());
  CHECK(ParseBenchOptions({"-t", "unix:/run/policyd.sock", "--idle"}).ok());
}

TEST_CASE("bench options: errors name the option") {
  struct Case {
    std::vector<std::string> args;
    const char* mentions;
  } cases[] = {
      {{"-c", "0"}, "-c"},
      {{"-c", "1.5"}, "whole"},
      {{"--eom-ratio", "2"}, "--eom-ratio"},
      {{"-d", "soon"}, "-d"},
      {{"-t", "example.com:25"}, "--target"},
      {{"--users"}, "needs a value"},
      {{"--bogus", "1"}, "unknown option"},
      {{"--sender-domain", "Ex ample"}, "--sender-domain"},
  };
  for (const Case& c : cases) {
    auto r = ParseBenchOptions(c.args);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().message.find(c.mentions) != std::string::npos);
  }
}

TEST_CASE("bench options: seed and decide-args") {
  auto t = ParseToolOptions({"-c", "x.toml", "--users", "1000000", "--per-account", "10",
                             "--plan", "bench", "--stage", "rcpt"});
  REQUIRE(t.ok());
  CHECK(t->config_path == "x.toml");
  CHECK(t->users == 1000000);
  CHECK(t->per_account == 10);
  CHECK(t->plan == "bench");
  CHECK(t->stage == "rcpt");
  CHECK_FALSE(ParseToolOptions({"--stage", "data"}).ok());
}

}  // namespace policyd::bench
