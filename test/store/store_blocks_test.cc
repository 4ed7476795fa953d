// Issue 3, acceptance 2: blocks of users and senders, expiry, and what redis-cli shows.
#include <doctest/doctest.h>

#include "redis_server.h"
#include "store/script_runner.h"

namespace policyd::test {
namespace {

constexpr uint64_t kNow = 1'800'000'000'000;

PolicyRequest Req(const std::string& user, const std::string& sender) {
  return MakeRequest({{"protocol_state", "RCPT"},
                      {"sasl_username", user},
                      {"sender", sender},
                      {"client_address", "192.0.2.10"},
                      {"instance", "i-1"}});
}

void Block(RedisServer& redis, const std::string& tag, uint64_t duration_ms) {
  const Script* s = FindScript("block_add");
  REQUIRE(s != nullptr);
  auto r = redis.Cmd({"EVAL", s->body, "0", "pd:", std::to_string(kNow), tag, "spam",
                      "42 complaints", std::to_string(duration_ms), "aaaaaaaaaabbbbbbbbbb",
                      "2592000000", "50", "2592000000", "test"});
  REQUIRE(r.size() == 2);
}

void SetUpAccount(RedisServer& redis) {
  for (const char* user : {"alice", "bob"}) {
    redis.Cmd({"HSET", std::string("pd:user:{user:") + user + "}", "account", "acme", "mode",
               "account"});
  }
  redis.Cmd({"HSET", "pd:domains:{account:acme}", "example.com", "verified"});
}

}  // namespace

TEST_CASE("blocks: a user block refuses that user only; the account's other users send") {
  RedisServer redis;
  StoreHarness store(redis.port(), TestConfig());
  SetUpAccount(redis);
  Block(redis, "user:alice", 3600 * 1000);
  Verdict v = store.Decide(Req("alice", "a@example.com"), kNow + 1000);
  CHECK(v.action == Action::kBlocked);
  CHECK(v.report_id == "aaaaaaaaaabbbbbbbbbb");
  CHECK(FormatVerdict(v, store.config())
            .rfind("550 5.7.1 [ABUSE] Sender blocked: spam or abuse detected. See: "
                   "https://policy.example.test/report?id=aaaaaaaaaabbbbbbbbbb&auth=",
                   0) == 0);
  CHECK(store.Decide(Req("bob", "b@example.com"), kNow + 1000).action == Action::kDunno);
}

TEST_CASE("blocks: a sender block refuses that address under any user") {
  RedisServer redis;
  StoreHarness store(redis.port(), TestConfig());
  SetUpAccount(redis);
  Block(redis, "sender:spammer@example.com", 0);
  CHECK(store.Decide(Req("alice", "spammer@example.com"), kNow).action == Action::kBlocked);
  CHECK(store.Decide(Req("bob", "Spammer@Example.COM"), kNow).action == Action::kBlocked);
  CHECK(store.Decide(Req("bob", "other@example.com"), kNow).action == Action::kDunno);
}

TEST_CASE("blocks: an expired block stops refusing without anyone deleting it") {
  RedisServer redis;
  StoreHarness store(redis.port(), TestConfig());
  SetUpAccount(redis);
  Block(redis, "user:alice", 60 * 1000);
  CHECK(store.Decide(Req("alice", "a@example.com"), kNow + 59 * 1000).action == Action::kBlocked);
  CHECK(store.Decide(Req("alice", "a@example.com"), kNow + 60 * 1000).action == Action::kDunno);
  // Redis expires the key itself too (PEXPIREAT at the block's end).
  CHECK(redis.CmdOne({"PEXPIRETIME", "pd:block:{user:alice}"}) == std::to_string(kNow + 60000));
}

TEST_CASE("blocks: HGETALL of the block key shows plain fields") {
  RedisServer redis;
  SetUpAccount(redis);
  Block(redis, "user:alice", 3600 * 1000);
  auto fields = redis.Cmd({"HGETALL", "pd:block:{user:alice}"});
  std::map<std::string, std::string> h;
  for (size_t i = 0; i + 1 < fields.size(); i += 2) h[fields[i]] = fields[i + 1];
  CHECK(h["reason"] == "spam");
  CHECK(h["evidence"] == "42 complaints");
  CHECK(h["created"] == std::to_string(kNow));
  CHECK(h["expires"] == std::to_string(kNow + 3600 * 1000));
  CHECK(h["report"] == "aaaaaaaaaabbbbbbbbbb");
  CHECK(redis.CmdOne({"HGET", "pd:report:aaaaaaaaaabbbbbbbbbb", "kind"}) == "block");
}

}  // namespace policyd::test
