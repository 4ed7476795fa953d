// Issue 5, acceptance 1 and 2 at the store level: escalation from throttles, signal scores,
// list-bombing, with an injected clock.
#include <doctest/doctest.h>

#include <map>

#include "core/signals.h"
#include "redis_server.h"
#include "store/report_store.h"

namespace policyd::test {
namespace {

constexpr uint64_t kNow = 1'800'000'000'000;
constexpr uint64_t kMin = 60 * 1000;
constexpr uint64_t kHour = 60 * kMin;

Config AbuseConfig() {
  Config c = TestConfig();
  c.plans["default"].limits = {{SubjectKind::kUser, Metric::kMessages, 1, 24 * kHour}};
  c.abuse.throttle_events = 5;
  c.abuse.within_ms = 10 * kMin;
  c.abuse.block_for_ms = kHour;
  c.abuse.escalate = 2.0;
  c.abuse.memory_ms = 7 * 24 * kHour;
  c.abuse.max_block_ms = 3 * kHour;
  c.abuse.list_bombing_messages = 5;
  c.abuse.list_bombing_window_ms = 10 * kMin;
  c.abuse.score_threshold = 5;  // one list_bombing signal (weight 5) blocks
  return c;
}

int g_instance = 0;

PolicyRequest Eom(const std::string& user = "alice", const std::string& rcpt = "") {
  return MakeRequest({{"protocol_state", "END-OF-MESSAGE"},
                      {"sasl_username", user},
                      {"sender", ""},
                      {"recipient", rcpt},
                      {"recipient_count", "1"},
                      {"size", "10"},
                      {"client_address", "192.0.2.1"},
                      {"client_port", "1"},
                      {"instance", "x" + std::to_string(++g_instance)}});
}

std::map<std::string, std::string> Hash(RedisServer& redis, const std::string& key) {
  auto flat = redis.Cmd({"HGETALL", key});
  std::map<std::string, std::string> h;
  for (size_t i = 0; i + 1 < flat.size(); i += 2) h[flat[i]] = flat[i + 1];
  return h;
}

}  // namespace

TEST_CASE("escalation: the 6th throttle within the window blocks, for block_for") {
  RedisServer redis;
  StoreHarness store(redis.port(), AbuseConfig());
  redis.Cmd({"HSET", "pd:user:{user:alice}", "account", "acme"});
  CHECK(store.Decide(Eom(), kNow).action == Action::kDunno);
  for (int i = 1; i <= 5; ++i) {
    Verdict v = store.Decide(Eom(), kNow + i * 1000);
    CHECK(v.action == Action::kThrottled);
    CHECK(v.created_block.empty());
  }
  Verdict sixth = store.Decide(Eom(), kNow + 6000);
  CHECK(sixth.action == Action::kThrottled);
  CHECK(sixth.created_block == "rate");
  auto block = Hash(redis, "pd:block:{user:alice}");
  CHECK(block["reason"] == "rate");
  CHECK(block["expires"] == std::to_string(kNow + 6000 + kHour));
  CHECK(store.Decide(Eom(), kNow + 7000).action == Action::kBlocked);
  // The report points at the throttles that caused it.
  std::string evidence = redis.CmdOne({"HGET", "pd:report:" + block["report"], "evidence"});
  CHECK(evidence.find("throttle") != std::string::npos);
}

TEST_CASE("escalation: throttles spread wider than `within` never block") {
  RedisServer redis;
  StoreHarness store(redis.port(), AbuseConfig());
  redis.Cmd({"HSET", "pd:user:{user:alice}", "account", "acme"});
  store.Decide(Eom(), kNow);
  for (int i = 1; i <= 20; ++i) {
    CHECK(store.Decide(Eom(), kNow + i * 3 * kMin).action == Action::kThrottled);
  }
  CHECK(redis.CmdOne({"EXISTS", "pd:block:{user:alice}"}) == "0");
}

TEST_CASE("escalation: a repeat block within memory doubles, capped at max_block") {
  RedisServer redis;
  StoreHarness store(redis.port(), AbuseConfig());
  redis.Cmd({"HSET", "pd:user:{user:alice}", "account", "acme"});
  store.Decide(Eom(), kNow);
  uint64_t t = kNow;
  std::vector<uint64_t> durations;
  for (int round = 0; round < 4; ++round) {
    for (int i = 0; i < 6; ++i) store.Decide(Eom(), t += 1000);
    auto block = Hash(redis, "pd:block:{user:alice}");
    REQUIRE(block["reason"] == "rate");
    durations.push_back(std::stoull(block["expires"]) - std::stoull(block["created"]));
    t = std::stoull(block["expires"]);  // the block has expired: throttling starts over
    CHECK(store.Decide(Eom(), t).action == Action::kThrottled);
  }
  CHECK(durations == std::vector<uint64_t>{kHour, 2 * kHour, 3 * kHour, 3 * kHour});
}

TEST_CASE("signals: each kind moves the score by its weight; crossing the threshold blocks") {
  RedisServer redis;
  Config c = AbuseConfig();
  c.abuse.score_threshold = 10;
  StoreHarness store(redis.port(), c);
  // ReportStore on a second client of the same server.
  uv_loop_t loop;
  uv_loop_init(&loop);
  RedisEndpoint ep;
  ep.host = "127.0.0.1";
  ep.port = redis.port();
  RedisClient client(&loop, ep, RedisClientOptions{});
  ScriptRunner scripts(&client);
  ReportStore reports(&client, &scripts);
  client.Start();
  while (!client.ready()) uv_run(&loop, UV_RUN_ONCE);
  auto ingest = [&](const std::string& kind) {
    std::optional<Result<std::vector<SignalOutcome>>> out;
    reports.IngestSignals(c, {*MakeSignal("user:bob", kind, kind + " evidence")}, "test",
                          [&](auto r) { out = std::move(r); });
    while (!out) uv_run(&loop, UV_RUN_ONCE);
    REQUIRE(out->ok());
    return (**out)[0];
  };
  CHECK(ingest("bounce").score == "1");
  CHECK(ingest("bad_recipient").score == "2");
  CHECK(ingest("list_bombing").score == "7");
  SignalOutcome last = ingest("complaint");
  CHECK(last.score == "12");
  CHECK(last.block_reason == "abuse");  // abuse-like weights (7) outweigh spam-like (5)
  auto block = Hash(redis, "pd:block:{user:bob}");
  CHECK(block["source"] == "test");
  std::string evidence = redis.CmdOne({"HGET", "pd:report:" + block["report"], "evidence"});
  for (const char* k : {"bounce evidence", "bad_recipient evidence", "list_bombing evidence",
                        "complaint evidence"}) {
    CHECK(evidence.find(k) != std::string::npos);
  }
  SUBCASE("a spam signal alone at the threshold blocks with reason spam") {
    c.abuse.score_threshold = 5;
    CHECK(ingest("spam").block_reason == "");  // already blocked: no second block
    redis.Cmd({"DEL", "pd:block:{user:bob}", "pd:signals:{user:bob}"});
    CHECK(ingest("spam").block_reason == "spam");
  }
  bool stopped = false;
  client.Stop([&] { stopped = true; });
  while (!stopped) uv_run(&loop, UV_RUN_ONCE);
  uv_run(&loop, UV_RUN_DEFAULT);
  uv_loop_close(&loop);
}

TEST_CASE("list-bombing: many messages to one recipient from one user become a signal") {
  RedisServer redis;
  Config c = AbuseConfig();
  c.plans["default"].limits.clear();
  StoreHarness store(redis.port(), c);
  redis.Cmd({"HSET", "pd:user:{user:carol}", "account", "acme"});
  for (int i = 0; i < 4; ++i) {
    CHECK(store.Decide(Eom("carol", "Victim@Dest.example"), kNow + i * 1000).action ==
          Action::kDunno);
  }
  // Other recipients do not add up.
  CHECK(store.Decide(Eom("carol", "someone@dest.example"), kNow + 5000).action == Action::kDunno);
  Verdict fifth = store.Decide(Eom("carol", "victim@dest.example"), kNow + 6000);
  CHECK(fifth.created_block == "abuse");
  CHECK(store.Decide(Eom("carol", "x@dest.example"), kNow + 7000).action == Action::kBlocked);
  std::string ev = redis.CmdOne({"LINDEX", "pd:evidence:{user:carol}", "0"});
  CHECK(ev.find("list_bombing") != std::string::npos);
}

}  // namespace policyd::test
