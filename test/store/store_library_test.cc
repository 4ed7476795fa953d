// Issue 16: decisions run as FCALL of the policyd function library (store/script_runner.cc).
// The library must come back by itself when Redis loses it, a config change must take effect
// on the next call although parsed configs are remembered inside Redis, and a Redis error
// reply must reach the caller as an Error.
#include <doctest/doctest.h>

#include "redis_server.h"
#include "store/script_runner.h"

namespace policyd::test {
namespace {

constexpr uint64_t kNow = 1'800'000'000'000;
constexpr uint64_t kHour = 3600 * 1000;

Config LimitConfig(uint64_t max_messages) {
  Config c = TestConfig();
  c.plans["limited"] = Plan{"limited", false, {{SubjectKind::kUser, Metric::kMessages,
                                               max_messages, kHour}}};
  c.abuse.throttle_events = 1000000;
  return c;
}

void SetUpUser(RedisServer& redis) {
  redis.Cmd({"HSET", "pd:user:{user:alice}", "account", "acme", "mode", "account", "plan",
             "limited"});
  redis.Cmd({"HSET", "pd:domains:{account:acme}", "example.com", "verified"});
}

int g_message = 0;

PolicyRequest Eom() {
  return MakeRequest({{"protocol_state", "END-OF-MESSAGE"},
                      {"sasl_username", "alice"},
                      {"sender", "alice@example.com"},
                      {"recipient_count", "1"},
                      {"client_address", "192.0.2.10"},
                      {"client_port", "40000"},
                      {"instance", "lib" + std::to_string(++g_message)}});
}

}  // namespace

TEST_CASE("library: every script is a function of one library named by its version") {
  const FunctionLibrary& lib = Library();
  CHECK(lib.name.rfind("policyd_", 0) == 0);
  CHECK(lib.code.rfind("#!lua name=" + lib.name + "\n", 0) == 0);
  std::string version = lib.name.substr(std::string("policyd_").size());
  for (const Script& s : AllScripts()) {
    CHECK(s.function == s.name + "_" + version);
    // Read-only scripts (access_facts, issue 16) are registered with flags, in the table form.
    std::string registered = s.read_only ? "redis.register_function{function_name='"
                                         : "redis.register_function('";
    CHECK(lib.code.find(registered + s.function + "'") != std::string::npos);
  }
}

TEST_CASE("library: a decision after FUNCTION FLUSH loads the library again, same answer") {
  RedisServer redis;
  StoreHarness store(redis.port(), LimitConfig(2));
  SetUpUser(redis);
  CHECK(store.Decide(Eom(), kNow).action == Action::kDunno);
  redis.Cmd({"FUNCTION", "FLUSH"});
  CHECK(redis.Cmd({"FUNCTION", "LIST"}).empty());
  CHECK(store.Decide(Eom(), kNow + 1000).action == Action::kDunno);
  CHECK(store.Decide(Eom(), kNow + 2000).action == Action::kThrottled);
  CHECK(redis.Cmd({"FUNCTION", "LIST"}).size() > 0);
}

TEST_CASE("library: a new config's plans apply to the very next call (memo keyed by config)") {
  RedisServer redis;
  StoreHarness store(redis.port(), LimitConfig(1));
  SetUpUser(redis);
  CHECK(store.Decide(Eom(), kNow).action == Action::kDunno);
  CHECK(store.Decide(Eom(), kNow + 1000).action == Action::kThrottled);
  store.SetConfig(LimitConfig(3));
  CHECK(store.Decide(Eom(), kNow + 2000).action == Action::kDunno);
  store.SetConfig(LimitConfig(1));
  Verdict v = store.Decide(Eom(), kNow + 3000);
  CHECK(v.action == Action::kThrottled);
  CHECK(v.max == 1);
  // Many distinct configs (a reload loop) never grow the memo without bound nor break it.
  for (uint64_t max = 10; max < 60; ++max) {
    store.SetConfig(LimitConfig(max));
    CHECK(store.Decide(Eom(), kNow + 4000 + max).action == Action::kDunno);
  }
}

TEST_CASE("library: a Redis error reply reaches the caller as an Error") {
  RedisServer redis;
  StoreHarness store(redis.port(), LimitConfig(5));
  redis.Cmd({"SET", "pd:user:{user:alice}", "not a hash"});
  Result<Verdict> r = store.TryDecide(Eom(), kNow);
  REQUIRE_FALSE(r.ok());
  CHECK(r.error().message.find("WRONGTYPE") != std::string::npos);
}

}  // namespace policyd::test
