// Issue 5, acceptance 1 and 2 at the store level: escalation from throttles, signal scores,
// list-bombing, with an injected clock.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "core/signals.h"
#include "redis_server.h"
#include "core/decide_args.h"
#include "store/report_store.h"
#include "store/script_runner.h"

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

// A plan without limits: only list-bombing decides.
Config ListBombingConfig() {
  Config c = AbuseConfig();
  c.plans["default"].limits.clear();
  return c;
}

void AddCarol(RedisServer& redis) {
  redis.Cmd({"HSET", "pd:user:{user:carol}", "account", "acme"});
}

int g_instance = 0;

// One request of message `instance` from `user` (a fixed client, so the same instance is the
// same message).
PolicyRequest Request(const std::string& state, const std::string& user,
                      const std::string& instance, const std::string& rcpt) {
  return MakeRequest({{"protocol_state", state},
                      {"sasl_username", user},
                      {"sender", ""},
                      {"recipient", rcpt},
                      {"recipient_count", "1"},
                      {"size", "10"},
                      {"client_address", "192.0.2.1"},
                      {"client_port", "1"},
                      {"instance", instance}});
}

// The END-OF-MESSAGE of a new message.
PolicyRequest Eom(const std::string& user = "alice", const std::string& rcpt = "") {
  return Request("END-OF-MESSAGE", user, "x" + std::to_string(++g_instance), rcpt);
}

// carol's message `instance`.
PolicyRequest Msg(const std::string& state, const std::string& instance, const std::string& rcpt) {
  return Request(state, "carol", instance, rcpt);
}

std::map<std::string, std::string> Hash(RedisServer& redis, const std::string& key) {
  auto flat = redis.Cmd({"HGETALL", key});
  std::map<std::string, std::string> h;
  for (size_t i = 0; i + 1 < flat.size(); i += 2) h[flat[i]] = flat[i + 1];
  return h;
}

// record_throttles (the entry point for throttles policyd refused by itself) through FCALL of
// the library, as policyd's LocalRefusals calls it. Returns "blocked" when the subject is
// blocked after the call (by it or before it), else "".
std::string RecordThrottles(RedisServer& redis, const std::string& subject, int n, uint64_t now,
                            const std::string& report_id = "r0") {
  redis.Cmd({"FUNCTION", "LOAD", "REPLACE", Library().code});
  auto reply = redis.Cmd({"FCALL", FindScript("record_throttles")->function, "0", "pd:",
                          AbuseSpec(AbuseConfig()).escalation, std::to_string(now), "3600000",
                          "", subject, std::to_string(n), report_id,
                          "messages 1/1 per 86400s (user)"});
  REQUIRE(reply.size() == 5);  // { list length, blocked, blocked by this call, reason, report }
  return reply[1] == "1" ? "blocked" : "";
}

}  // namespace

TEST_CASE("escalation: throttles recorded by record_throttles escalate as decided ones do") {
  RedisServer redis;
  StoreHarness store(redis.port(), AbuseConfig());
  redis.Cmd({"HSET", "pd:user:{user:alice}", "account", "acme"});
  CHECK(store.Decide(Eom(), kNow).action == Action::kDunno);
  SUBCASE("decided and local throttles add up: 2 + 3 recorded, the 6th (decided) blocks") {
    CHECK(store.Decide(Eom(), kNow + 1000).action == Action::kThrottled);
    CHECK(store.Decide(Eom(), kNow + 2000).action == Action::kThrottled);
    CHECK(RecordThrottles(redis, "user:alice", 3, kNow + 3000) == "");
    Verdict sixth = store.Decide(Eom(), kNow + 4000);
    CHECK(sixth.created_block == "rate");
  }
  SUBCASE("6 at once block once, for block_for; more while blocked record nothing") {
    CHECK(RecordThrottles(redis, "user:alice", 6, kNow + 1000, "r1") == "blocked");
    auto block = Hash(redis, "pd:block:{user:alice}");
    CHECK(block["reason"] == "rate");
    CHECK(block["report"] == "r1");
    CHECK(block["expires"] == std::to_string(kNow + 1000 + kHour));
    CHECK(RecordThrottles(redis, "user:alice", 6, kNow + 2000, "r2") == "blocked");
    CHECK(Hash(redis, "pd:block:{user:alice}")["report"] == "r1");
    CHECK(redis.CmdOne({"HGET", "pd:blockhist:{user:alice}", "blocks"}) == "1");
    CHECK(store.Decide(Eom(), kNow + 3000).action == Action::kBlocked);
  }
  SUBCASE("throttles spread wider than `within` never block") {
    for (int i = 0; i < 4; ++i) {
      CHECK(RecordThrottles(redis, "user:alice", 2, kNow + i * 11 * kMin) == "");
    }
    CHECK(redis.Cmd({"EXISTS", "pd:block:{user:alice}"})[0] == "0");
  }
}

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
  // Complaints and bounces are judged as rates; weights above 0 count them in the score too.
  c.abuse.weights["complaint"] = 5;
  c.abuse.weights["bounce"] = 1;
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
  Config c = ListBombingConfig();
  StoreHarness store(redis.port(), c);
  AddCarol(redis);
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

TEST_CASE("list-bombing: a message counts once, and the window slides across time slices") {
  RedisServer redis;
  Config c = ListBombingConfig();
  StoreHarness store(redis.port(), c);
  AddCarol(redis);
  // kNow is a multiple of the 10 min window: messages 0-3 fall in one slice, the later ones
  // in the next, so the count must read both.
  REQUIRE(kNow % (10 * kMin) == 0);
  // A message's RCPT then its END-OF-MESSAGE; the END-OF-MESSAGE's verdict is where a signal
  // shows (count_at = eom: the message is counted there, the RCPT writes nothing).
  auto both = [&](const std::string& id, uint64_t at) {
    Verdict rcpt = store.Decide(Msg("RCPT", id, "victim@dest.example"), at);
    CHECK(rcpt.action == Action::kDunno);
    CHECK(rcpt.created_block == "");
    return store.Decide(Msg("END-OF-MESSAGE", id, "victim@dest.example"), at + 100);
  };
  for (int i = 0; i < 4; ++i) CHECK(both("m" + std::to_string(i), kNow + i * kMin).created_block == "");
  // Postfix repeating a RCPT or the END-OF-MESSAGE of a message already counted adds nothing.
  CHECK(store.Decide(Msg("RCPT", "m3", "victim@dest.example"), kNow + 5 * kMin).action ==
        Action::kDunno);
  CHECK(store.Decide(Msg("END-OF-MESSAGE", "m3", "victim@dest.example"), kNow + 5 * kMin)
            .created_block == "");
  // m0 (at kNow) has left the 10 min window: m1..m3 and this one make 4 of 5.
  CHECK(both("m4", kNow + 10 * kMin + 30 * 1000).created_block == "");
  // The fifth within the window (m1 at kNow + 1 min is still in it) is the signal.
  Verdict fifth = both("m5", kNow + 10 * kMin + 40 * 1000);
  CHECK(fifth.created_block == "abuse");
  CHECK(store.Decide(Msg("RCPT", "m6", "victim@dest.example"), kNow + 11 * kMin).action ==
        Action::kBlocked);
}

TEST_CASE("list-bombing: a message whose RCPT and END-OF-MESSAGE straddle two slices counts once") {
  RedisServer redis;
  Config c = ListBombingConfig();
  c.abuse.list_bombing_messages = 2;
  StoreHarness store(redis.port(), c);
  AddCarol(redis);
  const uint64_t edge = kNow + 10 * kMin;  // a slice boundary
  CHECK(store.Decide(Msg("RCPT", "a", "victim@dest.example"), edge - 1000).created_block == "");
  CHECK(store.Decide(Msg("END-OF-MESSAGE", "a", "victim@dest.example"), edge + 1000)
            .created_block == "");
  CHECK(redis.CmdOne({"ZCARD", "pd:signals:{user:carol}"}) == "0");
  CHECK(store.Decide(Msg("RCPT", "b", "victim@dest.example"), edge + 2000).created_block == "");
  CHECK(store.Decide(Msg("END-OF-MESSAGE", "b", "victim@dest.example"), edge + 3000)
            .created_block == "abuse");
}

TEST_CASE("list-bombing: at most list_bombing_messages entries per recipient are kept") {
  RedisServer redis;
  Config c = ListBombingConfig();
  c.abuse.weights["list_bombing"] = 0;  // count, never block: watch the stored entries
  StoreHarness store(redis.port(), c);
  AddCarol(redis);
  for (int i = 0; i < 12; ++i) {
    store.Decide(Msg("END-OF-MESSAGE", "n" + std::to_string(i), "victim@dest.example"),
                 kNow + i * 1000);
  }
  auto keys = redis.Cmd({"KEYS", "pd:msg:{user:carol}:*"});
  REQUIRE(keys.size() == 1);
  std::string entries = redis.CmdOne({"HGET", keys[0], "victim@dest.example"});
  CHECK(std::count(entries.begin(), entries.end(), ',') == 4);  // 5 entries, the newest
  CHECK(entries.rfind(std::to_string(kNow + 11 * 1000) + ":", std::string::npos) !=
        std::string::npos);
  CHECK(entries.find(std::to_string(kNow + 7 * 1000) + ":") == 0);
  // One signal only: when the count reached 5, not for every message after it.
  CHECK(redis.CmdOne({"ZCARD", "pd:signals:{user:carol}"}) == "1");
}

TEST_CASE("list-bombing: END-OF-MESSAGE counts each collected recipient once, RCPT nothing") {
  RedisServer redis;
  Config c = ListBombingConfig();
  c.abuse.list_bombing_messages = 3;
  StoreHarness store(redis.port(), c);
  AddCarol(redis);
  // Three messages to the same two recipients (and one to a third): the RCPTs write nothing,
  // each END-OF-MESSAGE records every recipient it was given; a repeat records nothing.
  for (int i = 0; i < 3; ++i) {
    std::string id = "multi" + std::to_string(i);
    for (const char* r : {"a@dest.example", "b@dest.example"}) {
      CHECK(store.Decide(Msg("RCPT", id, r), kNow + i * 1000).action == Action::kDunno);
    }
    CHECK(redis.Cmd({"KEYS", "pd:msg:*"}).size() == (i == 0 ? 0u : 1u));
    if (i < 2) {
      Verdict eom = store.DecideWithRecipients(
          Msg("END-OF-MESSAGE", id, ""), kNow + i * 1000 + 500,
          {"A@dest.example", "b@dest.example", "a@dest.example"});
      CHECK(eom.created_block == "");
      Verdict again = store.DecideWithRecipients(Msg("END-OF-MESSAGE", id, ""),
                                                 kNow + i * 1000 + 600, {"a@dest.example"});
      CHECK(again.created_block == "");
    }
  }
  auto keys = redis.Cmd({"KEYS", "pd:msg:{user:carol}:*"});
  REQUIRE(keys.size() == 1);
  auto entries = Hash(redis, keys[0]);
  // Besides the answers ('%m' fields) and the slice's mark ('%t'): a and b, lower-cased, each
  // with two messages.
  std::erase_if(entries, [](const auto& e) { return e.first.rfind('%', 0) == 0; });
  CHECK(entries.size() == 2);
  CHECK(std::count(entries["a@dest.example"].begin(), entries["a@dest.example"].end(), ',') == 1);
  CHECK(redis.CmdOne({"ZCARD", "pd:signals:{user:carol}"}) == "0");
  // The third message reaches 3 for both recipients: two signals, the first blocks.
  Verdict third = store.DecideWithRecipients(Msg("END-OF-MESSAGE", "multi2", ""), kNow + 2500,
                                             {"a@dest.example", "b@dest.example"});
  CHECK(third.created_block == "abuse");
  CHECK(Hash(redis, "pd:block:{user:carol}")["reason"] == "abuse");
  int signals = 0;
  for (const auto& e : redis.Cmd({"LRANGE", "pd:evidence:{user:carol}", "0", "-1"})) {
    if (e.find("list_bombing") != std::string::npos) ++signals;
  }
  CHECK(signals == 2);
}

TEST_CASE("list-bombing: with count_at = rcpt each RCPT let through counts its recipient") {
  RedisServer redis;
  Config c = ListBombingConfig();
  c.policy.count_at = CountAt::kRcpt;
  c.abuse.list_bombing_messages = 2;
  StoreHarness store(redis.port(), c);
  AddCarol(redis);
  CHECK(store.Decide(Msg("RCPT", "r0", "victim@dest.example"), kNow).created_block == "");
  // Its END-OF-MESSAGE and a repeated RCPT add nothing.
  CHECK(store.Decide(Msg("END-OF-MESSAGE", "r0", "victim@dest.example"), kNow + 100)
            .created_block == "");
  CHECK(store.Decide(Msg("RCPT", "r0", "victim@dest.example"), kNow + 200).created_block == "");
  CHECK(redis.CmdOne({"ZCARD", "pd:signals:{user:carol}"}) == "0");
  CHECK(store.Decide(Msg("RCPT", "r1", "victim@dest.example"), kNow + 1000).created_block ==
        "abuse");
}

}  // namespace policyd::test
