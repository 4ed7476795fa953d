// Issue 18 at the store level: complaint and bounce rates against the messages decide.lua
// counted (A, B, C of the issue), warn and block levels, the minimum volume, feedback ids
// counted once, and the per-bucket hashes staying bounded. Decisions and signals share one
// injected clock (signal.lua through FCALL with its now argument).
#include <doctest/doctest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>

#include "core/decide_args.h"
#include "redis_server.h"
#include "store/script_runner.h"

namespace policyd::test {
namespace {

constexpr uint64_t kNow = 1'800'000'000'000;
constexpr uint64_t kHour = 3600 * 1000;
constexpr uint64_t kDay = 24 * kHour;

int g_message = 0;

// One accepted message of `user` (a new instance each time), counted at END-OF-MESSAGE.
PolicyRequest Message(const std::string& user, const std::string& sender = "") {
  return MakeRequest({{"protocol_state", "END-OF-MESSAGE"},
                      {"sasl_username", user},
                      {"sender", sender},
                      {"recipient_count", "1"},
                      {"size", "100"},
                      {"client_address", "192.0.2.1"},
                      {"client_port", "1"},
                      {"instance", "m" + std::to_string(++g_message)}});
}

struct Outcome {
  std::string score, reason, rate, outcome;
};

// signal.lua for one signal at `now`, as ReportStore::IngestSignals calls it.
Outcome Ingest(RedisServer& redis, const Config& c, const std::string& tag,
               const std::string& kind, uint64_t now, const std::string& feedback_id = "") {
  AbuseSpecs specs = AbuseSpec(c);
  static int report = 0;
  char id[21];
  snprintf(id, sizeof id, "%020d", ++report);
  auto r = redis.Cmd({"FCALL", FindScript("signal")->function, "0", "pd:", std::to_string(now),
                      specs.escalation, specs.score, std::to_string(c.report.ttl_ms), "test",
                      specs.rates, "", tag, kind, kind + " from a feedback loop", id, feedback_id,
                      ""});
  REQUIRE(r.size() == 4);
  return {r[0], r[1], r[2], r[3]};
}

std::map<std::string, std::string> Hash(RedisServer& redis, const std::string& key) {
  auto flat = redis.Cmd({"HGETALL", key});
  std::map<std::string, std::string> h;
  for (size_t i = 0; i + 1 < flat.size(); i += 2) h[flat[i]] = flat[i + 1];
  return h;
}

// The rate.warning events in pd:events, as their data objects.
std::vector<nlohmann::json> Warnings(RedisServer& redis, const std::string& subject) {
  std::vector<nlohmann::json> out;
  auto flat = redis.Cmd({"XRANGE", "pd:events", "-", "+"});
  // Flattened XRANGE: id, then field/value pairs; fields are type, subject, time, data.
  for (size_t i = 0; i + 8 < flat.size() + 1; ++i) {
    if (flat[i] == "type" && flat[i + 1] == "rate.warning" && flat[i + 3] == subject) {
      out.push_back(nlohmann::json::parse(flat[i + 7]));
    }
  }
  return out;
}

struct Fixture {
  RedisServer redis;
  Config c = TestConfig();
  std::unique_ptr<StoreHarness> store;
  Fixture() {
    store = std::make_unique<StoreHarness>(redis.port(), c);
    for (const char* u : {"a", "b", "c", "d"}) {
      redis.Cmd({"HSET", std::string("pd:user:{user:") + u + "}", "account", "acme"});
    }
    redis.Cmd({"HSET", "pd:domains:{account:acme}", "example.com", "verified"});
    redis.Cmd({"SADD", "pd:grants:{user:a}", "example.com"});
  }
  void Send(const std::string& user, int n, uint64_t at) {
    for (int i = 0; i < n; ++i) REQUIRE(store->Decide(Message(user), at).action == Action::kDunno);
  }
};

}  // namespace

TEST_CASE("rates: A, 5 complaints in 10,000 messages, is not blocked and not warned") {
  Fixture f;
  f.Send("a", 10000, kNow);
  CHECK(f.redis.CmdOne({"HGET", "pd:sent:{user:a}", std::to_string(kNow / (7 * kDay / 28))}) ==
        "10000");
  for (int i = 0; i < 5; ++i) {
    Outcome o = Ingest(f.redis, f.c, "user:a", "complaint", kNow + kHour + i);
    CHECK(o.outcome == "counted");
    CHECK(o.reason == "");
  }
  CHECK(Ingest(f.redis, f.c, "user:a", "complaint", kNow + 2 * kHour).rate ==
        "complaint rate 0.06 % \xe2\x80\x94 6 complaints in 10,000 messages over 7 days "
        "(block level 0.5 %)");
  CHECK(f.redis.CmdOne({"EXISTS", "pd:block:{user:a}"}) == "0");
  CHECK(Warnings(f.redis, "user:a").empty());
}

TEST_CASE("rates: C, 6 complaints in 1,000 messages, is warned then blocked for spam") {
  Fixture f;
  f.Send("c", 1000, kNow);
  std::vector<std::string> outcomes;
  for (int i = 0; i < 6; ++i) {
    outcomes.push_back(Ingest(f.redis, f.c, "user:c", "complaint", kNow + kHour + i).outcome);
  }
  // 0.1 % is at the warn level, 0.2 % above it (one event per bucket), 0.5 % at the block
  // level, 0.6 % above it.
  CHECK(outcomes == std::vector<std::string>{"counted", "warned", "counted", "counted", "counted",
                                             "blocked"});
  auto block = Hash(f.redis, "pd:block:{user:c}");
  CHECK(block["reason"] == "spam");
  CHECK(block["evidence"] ==
        "complaint rate 0.6 % \xe2\x80\x94 6 complaints in 1,000 messages over 7 days "
        "(block level 0.5 %)");
  CHECK(block["expires"] == std::to_string(kNow + kHour + 5 + f.c.abuse.block_for_ms));
  auto warnings = Warnings(f.redis, "user:c");
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0]["kind"] == "complaint");
  CHECK(warnings[0]["count"] == 2);
  CHECK(warnings[0]["messages"] == 1000);
  CHECK(warnings[0]["below_min_volume"] == false);
  // Evidence entries carry the rate after each complaint, for the report page.
  std::string evidence = f.redis.CmdOne({"LINDEX", "pd:evidence:{user:c}", "0"});
  CHECK(nlohmann::json::parse(evidence)["rate"] == block["evidence"]);
  CHECK(nlohmann::json::parse(f.redis.CmdOne({"HGET", "pd:report:" + block["report"],
                                              "evidence"}))
            .size() == 6);
}

TEST_CASE("rates: B, 5 complaints in 100 messages, is below the minimum volume: warned only") {
  Fixture f;
  f.Send("b", 100, kNow);
  std::vector<std::string> outcomes;
  for (int i = 0; i < 5; ++i) {
    outcomes.push_back(Ingest(f.redis, f.c, "user:b", "complaint", kNow + kHour + i).outcome);
  }
  CHECK(outcomes == std::vector<std::string>{"warned", "counted", "counted", "counted", "counted"});
  CHECK(f.redis.CmdOne({"EXISTS", "pd:block:{user:b}"}) == "0");
  auto warnings = Warnings(f.redis, "user:b");
  REQUIRE(warnings.size() == 1);
  CHECK(warnings[0]["below_min_volume"] == true);
  SUBCASE("once it has sent the minimum volume, the same rate blocks") {
    f.Send("b", 100, kNow + 2 * kHour);  // 200 messages, 5 complaints: 2.5 %
    Outcome o = Ingest(f.redis, f.c, "user:b", "complaint", kNow + 3 * kHour);
    CHECK(o.outcome == "blocked");
    CHECK(o.rate.find("6 complaints in 200 messages") != std::string::npos);
  }
}

TEST_CASE("rates: the same feedback id counts once; bounces have their own levels") {
  Fixture f;
  f.Send("d", 200, kNow);
  CHECK(Ingest(f.redis, f.c, "user:d", "complaint", kNow + 1, "arf-1").outcome == "warned");
  CHECK(Ingest(f.redis, f.c, "user:d", "complaint", kNow + 2, "arf-1").outcome == "duplicate");
  CHECK(Ingest(f.redis, f.c, "user:d", "complaint", kNow + 3 * kDay, "arf-1").outcome ==
        "duplicate");
  CHECK(Hash(f.redis, "pd:complaints:{user:d}").size() == 1);
  std::vector<std::string> outcomes;
  for (int i = 0; i < 21; ++i) {
    outcomes.push_back(
        Ingest(f.redis, f.c, "user:d", "bounce", kNow + 10 + i, "dsn-" + std::to_string(i))
            .outcome);
  }
  // 10 bounces in 200 messages: 5 % (at the warn level), 11: above; 20: 10 % (at the block
  // level), 21: above.
  CHECK(outcomes[9] == "counted");
  CHECK(outcomes[10] == "warned");
  CHECK(outcomes[19] == "counted");
  CHECK(outcomes[20] == "blocked");
  CHECK(Hash(f.redis, "pd:block:{user:d}")["reason"] == "abuse");
  CHECK(Hash(f.redis, "pd:block:{user:d}")["evidence"].find(
            "bounce rate 10.5 % \xe2\x80\x94 21 bounces in 200") == 0);
}

TEST_CASE("rates: messages older than the window stop counting and leave the hash") {
  Fixture f;
  uint64_t bucket = 7 * kDay / 28;
  // One message in each of 40 buckets: only the newest 28 are in the window.
  for (int i = 0; i < 40; ++i) f.Send("a", 1, kNow + i * bucket);
  CHECK(Hash(f.redis, "pd:sent:{user:a}").size() <= 29);
  Outcome o = Ingest(f.redis, f.c, "user:a", "complaint", kNow + 39 * bucket);
  CHECK(o.rate.find("1 complaint in 28 messages") != std::string::npos);
  // The sender address of an SMTP user has a rate of its own.
  f.Send("a", 3, kNow + 39 * bucket);
  CHECK(f.redis.CmdOne({"HGET", "pd:sent:{user:a}", std::to_string((kNow + 39 * bucket) / bucket)})
        == "4");
  f.store->Decide(Message("a", "news@example.com"), kNow + 39 * bucket);
  CHECK(f.redis.CmdOne({"EXISTS", "pd:sent:{sender:news@example.com}"}) == "1");
}

TEST_CASE("rates: an account's rate is counted and shown beside its users', never blocked on") {
  Fixture f;
  f.Send("a", 150, kNow);
  f.Send("b", 50, kNow);
  for (int i = 0; i < 3; ++i) Ingest(f.redis, f.c, "user:b", "complaint", kNow + kHour + i);
  CHECK(f.redis.CmdOne({"HGET", "pd:sent:{account:acme}", std::to_string(kNow / (7 * kDay / 28))})
        == "200");
  auto entry = nlohmann::json::parse(f.redis.CmdOne({"LINDEX", "pd:evidence:{user:b}", "0"}));
  CHECK(entry["account_rate"] ==
        "account acme: complaint rate 1.5 % \xe2\x80\x94 3 complaints in 200 messages over 7 days");
  CHECK(f.redis.CmdOne({"EXISTS", "pd:block:{account:acme}"}) == "0");
}

// account_rates.lua as HttpServer's /metrics calls it (ReportStore::AccountRates), at `now`:
// rows of { account, messages, complaints, bounces } (the 5th field, the newest complaint's
// or bounce's time, is checked against pd:rated_accounts below).
std::vector<std::vector<std::string>> AccountRates(RedisServer& redis, const Config& c,
                                                   uint64_t now, int max = 1000) {
  auto flat = redis.Cmd({"FCALL", FindScript("account_rates")->function, "0", "pd:",
                         std::to_string(now), AbuseSpec(c).rates, std::to_string(max)});
  std::vector<std::vector<std::string>> rows;
  for (size_t i = 0; i + 4 < flat.size(); i += 5) {
    rows.push_back({flat[i], flat[i + 1], flat[i + 2], flat[i + 3]});
  }
  return rows;
}

TEST_CASE("rates: account_rates reads the rated accounts' window, newest first, read-only") {
  Fixture f;
  f.redis.Cmd({"HSET", "pd:user:{user:e}", "account", "beta"});
  f.Send("a", 150, kNow);
  f.Send("b", 50, kNow);
  f.Send("e", 10, kNow);
  // An account with messages and no complaint or bounce is not among the rated ones.
  CHECK(AccountRates(f.redis, f.c, kNow + 1).empty());
  Ingest(f.redis, f.c, "user:a", "complaint", kNow + kHour);
  Ingest(f.redis, f.c, "user:b", "complaint", kNow + kHour + 1);
  Ingest(f.redis, f.c, "user:b", "bounce", kNow + kHour + 2);
  Ingest(f.redis, f.c, "user:e", "complaint", kNow + 2 * kHour);
  // A sender address has no account: it rates nobody.
  Ingest(f.redis, f.c, "sender:x@example.com", "complaint", kNow + 3 * kHour);
  auto zset = f.redis.Cmd({"ZRANGE", "pd:rated_accounts", "0", "-1", "WITHSCORES"});
  CHECK(zset == std::vector<std::string>{"acme", std::to_string(kNow + kHour + 2), "beta",
                                         std::to_string(kNow + 2 * kHour)});
  auto keys = f.redis.Keys();
  auto rows = AccountRates(f.redis, f.c, kNow + 4 * kHour);
  // The same sums as the evidence entry's account_rate (rate_sum over the same buckets).
  CHECK(rows == std::vector<std::vector<std::string>>{{"beta", "10", "1", "0"},
                                                      {"acme", "200", "2", "1"}});
  // Each row ends with its account's score in pd:rated_accounts (a cluster merges by it).
  CHECK(f.redis.Cmd({"FCALL", FindScript("account_rates")->function, "0", "pd:",
                     std::to_string(kNow + 4 * kHour), AbuseSpec(f.c).rates, "1000"}) ==
        std::vector<std::string>{"beta", "10", "1", "0", std::to_string(kNow + 2 * kHour),
                                 "acme", "200", "2", "1", std::to_string(kNow + kHour + 2)});
  CHECK(AccountRates(f.redis, f.c, kNow + 4 * kHour, 1) ==
        std::vector<std::vector<std::string>>{{"beta", "10", "1", "0"}});
  CHECK(f.redis.Keys() == keys);  // reads only
  CHECK(f.redis.Cmd({"ZRANGE", "pd:rated_accounts", "0", "-1", "WITHSCORES"}) == zset);
  // Past the window nobody is rated; the next write trims the set to the window.
  uint64_t later = kNow + 8 * kDay;
  CHECK(AccountRates(f.redis, f.c, later).empty());
  f.Send("e", 5, later);
  Ingest(f.redis, f.c, "user:e", "bounce", later + 1);
  CHECK(f.redis.Cmd({"ZRANGE", "pd:rated_accounts", "0", "-1"}) ==
        std::vector<std::string>{"beta"});
  CHECK(AccountRates(f.redis, f.c, later + 2) ==
        std::vector<std::vector<std::string>>{{"beta", "5", "0", "1"}});
  CHECK(std::stoll(f.redis.CmdOne({"PTTL", "pd:rated_accounts"})) > 0);
}

TEST_CASE("rates: pd:rated_accounts keeps the 1,000 newest accounts and is documented") {
  Fixture f;
  f.Send("a", 1, kNow);  // loads the function library
  // 1,005 accounts, one user each, one complaint each.
  for (int i = 0; i < 1005; ++i) {
    std::string n = std::to_string(i);
    f.redis.Cmd({"HSET", "pd:user:{user:cap" + n + "}", "account", "acct" + n});
  }
  for (int i = 0; i < 1005; ++i) {
    std::string n = std::to_string(i);
    char id[21];
    snprintf(id, sizeof id, "%020d", 900000 + i);
    // One millisecond apart, so "newest" is well defined.
    auto r = f.redis.Cmd({"FCALL", FindScript("signal")->function, "0", "pd:",
                          std::to_string(kNow + i), AbuseSpec(f.c).escalation,
                          AbuseSpec(f.c).score, std::to_string(f.c.report.ttl_ms), "test",
                          AbuseSpec(f.c).rates, "", "user:cap" + n, "complaint", "c", id, "", ""});
    REQUIRE_MESSAGE(r.size() == 4, (r.empty() ? std::string() : r[0]));
  }
  CHECK(f.redis.CmdOne({"ZCARD", "pd:rated_accounts"}) == "1000");
  auto rows = AccountRates(f.redis, f.c, kNow + 2000, 5000);
  REQUIRE(rows.size() == 1000);
  CHECK(rows.front() == std::vector<std::string>{"acct1004", "0", "1", "0"});
  CHECK(rows.back()[0] == "acct5");
  std::ifstream doc(std::string(POLICYD_SOURCE_DIR) + "/docs/redis-keys.md");
  std::stringstream text;
  text << doc.rdbuf();
  CHECK(text.str().find("`pd:rated_accounts`") != std::string::npos);
}

}  // namespace policyd::test
