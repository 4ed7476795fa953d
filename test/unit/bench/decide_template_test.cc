// The redis-benchmark ceiling sends what policyd sends: decide.lua's ARGV from
// BuildDecideArgs, with __rand_int__ exactly where users, recipients and identities vary.
// Seed commands use the documented key layout.
#include "bench/decide_template.h"

#include <doctest/doctest.h>

#include <string>

#include "bench/seed_commands.h"
#include "core/config.h"

namespace policyd::bench {
namespace {

Config BenchConfig() {
  auto c = ParseConfig(R"(
[policy]
default_plan = "bench"
[plans.bench]
limits = [ { subject = "user", metric = "messages", max = 1000, window = "1h" } ]
[report]
secret = "bench-secret-0123456789abcdef"
)",
                       "bench.toml");
  REQUIRE(c.ok());
  return *c;
}

}  // namespace

TEST_CASE("decide template: ARGV with placeholders where requests vary") {
  Config c = BenchConfig();
  auto eom = DecideArgsTemplate(c, true, "example.com");
  REQUIRE(eom.ok());
  const auto& a = *eom;
  // ARGV[29] rates (issue 18), [30] client, [31] quota (issue 19), [32] recipients (issue 16)
  REQUIRE(a.size() == 32);
  CHECK(a[0] == "decide");
  CHECK(a[3] == "eom");
  CHECK(a[5] == "user:u__rand_int__");
  CHECK(a[6] == "sender:u__rand_int__@example.com");
  CHECK(a[7] == "example.com");
  CHECK(a[9] == "r__rand_int__@example.org");
  CHECK(a[12].starts_with("m__rand_int__"));
  CHECK(a[16] == "bench|0|user:messages:1000:3600");
  CHECK(a[29].size() == 32);  // the client address stays valid hex: no placeholder in it
  CHECK(a[29].find(std::string("__rand_int__")) == std::string::npos);
  auto rcpt = DecideArgsTemplate(c, false, "example.com");
  REQUIRE(rcpt.ok());
  CHECK((*rcpt)[3] == "rcpt");
  CHECK((*rcpt)[10] == "0");
}

TEST_CASE("seed: users, grants, accounts and domains under the key prefix") {
  Config c = BenchConfig();
  ToolOptions o;
  o.per_account = 2;
  o.plan = "bench";
  std::string out;
  AppendSeedCommands(c, o, 0, 3, &out);
  CHECK(out.find("pd:user:{user:u000000000002}") != std::string::npos);
  CHECK(out.find("pd:grants:{user:u000000000000}") != std::string::npos);
  CHECK(out.find("pd:account:{account:a000000000001}") != std::string::npos);
  CHECK(out.find("pd:domains:{account:a000000000000}") != std::string::npos);
  CHECK(out.find("a000000000002") == std::string::npos);  // 3 users, 2 per account
  CHECK(AccountName(5, 2) == "a000000000002");
  // RESP arrays: as many commands as "*N" headers.
  std::size_t commands = 0;
  for (std::size_t p = out.find('*'); p != std::string::npos; p = out.find("\r\n*", p + 1)) {
    ++commands;
  }
  CHECK(commands == 2 * 2 + 3 * 2);  // per account: plan + domain; per user: hash + grant
}

}  // namespace policyd::bench
