// Issue 20: events written by the scripts in the same call as their cause (block created,
// lifted, expired), and block.expired emitted exactly once however often the sweep runs.
#include <doctest/doctest.h>

#include <algorithm>

#include "redis_server.h"
#include "store/script_runner.h"

namespace policyd::test {
namespace {

constexpr uint64_t kNow = 1'800'000'000'000;

std::vector<std::string> Run(RedisServer& redis, const std::string& script,
                             std::vector<std::string> args) {
  const Script* s = FindScript(script);
  REQUIRE(s != nullptr);
  std::vector<std::string> argv = {"EVAL", s->body, "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  return redis.Cmd(argv);
}

void Block(RedisServer& redis, const std::string& tag, uint64_t duration_ms, uint64_t now) {
  Run(redis, "block_add",
      {"pd:", std::to_string(now), tag, "spam", "42 complaints", std::to_string(duration_ms),
       "aaaaaaaaaabbbbbbbbbb", "2592000000", "50", "2592000000", "test"});
}

// How many events of `type` about `subject` the stream holds.
long Events(RedisServer& redis, const std::string& type, const std::string& subject) {
  std::vector<std::string> flat = redis.Cmd({"XRANGE", "pd:events", "-", "+"});
  long n = 0;
  for (size_t i = 0; i + 3 < flat.size(); ++i) {
    if (flat[i] == "type" && flat[i + 1] == type && flat[i + 2] == "subject" &&
        flat[i + 3] == subject) {
      ++n;
    }
  }
  return n;
}

std::string Sweep(RedisServer& redis, uint64_t now) {
  auto r = Run(redis, "block_expire_sweep", {"pd:", std::to_string(now), "100"});
  return r.empty() ? "" : r[0];
}

}  // namespace

TEST_CASE("events: a block with an expiry is created, then expires once") {
  RedisServer redis;
  Block(redis, "user:alice", 60'000, kNow);
  CHECK(Events(redis, "block.created", "user:alice") == 1);
  CHECK(redis.CmdOne({"ZSCORE", "pd:block_expiries", "user:alice"}) ==
        std::to_string(kNow + 60'000));
  CHECK(Sweep(redis, kNow + 59'999) == "0");
  CHECK(Events(redis, "block.expired", "user:alice") == 0);
  CHECK(Sweep(redis, kNow + 60'000) == "1");
  CHECK(Sweep(redis, kNow + 60'001) == "0");  // a second sweeper finds nothing left
  CHECK(Events(redis, "block.expired", "user:alice") == 1);
}

TEST_CASE("events: a lifted block emits block.lifted and never expires") {
  RedisServer redis;
  Block(redis, "sender:x@example.com", 60'000, kNow);
  CHECK(Run(redis, "block_lift",
            {"pd:", std::to_string(kNow + 1), "sender:x@example.com", "policyctl"}) ==
        std::vector<std::string>{"ok", "spam"});
  CHECK(Run(redis, "block_lift",
            {"pd:", std::to_string(kNow + 2), "sender:x@example.com", "policyctl"}) ==
        std::vector<std::string>{"notfound", "not blocked"});
  CHECK(Events(redis, "block.lifted", "sender:x@example.com") == 1);
  CHECK(redis.Cmd({"EXISTS", "pd:block:{sender:x@example.com}"}) == std::vector<std::string>{"0"});
  CHECK(Sweep(redis, kNow + 120'000) == "0");
  CHECK(Events(redis, "block.expired", "sender:x@example.com") == 0);
}

TEST_CASE("events: a block replaced by one without expiry leaves the expiry set") {
  RedisServer redis;
  Block(redis, "user:bob", 60'000, kNow);
  Block(redis, "user:bob", 0, kNow + 10);
  CHECK(Events(redis, "block.created", "user:bob") == 2);
  CHECK(Sweep(redis, kNow + 120'000) == "0");
  CHECK(Events(redis, "block.expired", "user:bob") == 0);
}

}  // namespace policyd::test
