// Issue 3, acceptance 3: sliding-window limits, with an injected clock so hour-long windows
// are tested without sleeping.
#include <doctest/doctest.h>

#include <map>
#include <random>

#include "redis_server.h"

namespace policyd::test {
namespace {

constexpr uint64_t kNow = 1'800'000'000'000;
constexpr uint64_t kHour = 3600 * 1000;
constexpr uint64_t kBucket = kHour / 60;

Config LimitConfig(std::vector<Limit> limits) {
  Config c = TestConfig();
  c.plans["limited"] = Plan{"limited", false, std::move(limits)};
  c.abuse.throttle_events = 1000000;  // escalation is tested on its own
  return c;
}

void SetUpUser(RedisServer& redis, const std::string& user = "alice") {
  redis.Cmd({"HSET", "pd:user:{user:" + user + "}", "account", "acme", "mode", "account", "plan",
             "limited"});
  redis.Cmd({"HSET", "pd:domains:{account:acme}", "example.com", "verified"});
}

int g_instance = 0;

PolicyRequest Eom(int rcpts = 1, uint64_t size = 1000, const std::string& instance = "",
                  const std::string& user = "alice") {
  return MakeRequest({{"protocol_state", "END-OF-MESSAGE"},
                      {"sasl_username", user},
                      {"sender", user + "@example.com"},
                      {"recipient_count", std::to_string(rcpts)},
                      {"size", std::to_string(size)},
                      {"client_address", "192.0.2.10"},
                      {"client_port", "40000"},
                      {"instance", instance.empty() ? "m" + std::to_string(++g_instance)
                                                    : instance}});
}

PolicyRequest Rcpt(const std::string& instance, const std::string& rcpt) {
  return MakeRequest({{"protocol_state", "RCPT"},
                      {"sasl_username", "alice"},
                      {"sender", "alice@example.com"},
                      {"recipient", rcpt},
                      {"recipient_count", "0"},
                      {"client_address", "192.0.2.10"},
                      {"client_port", "40000"},
                      {"instance", instance}});
}

std::map<std::string, std::vector<std::string>> RateState(RedisServer& redis) {
  std::map<std::string, std::vector<std::string>> out;
  for (const auto& k : redis.Cmd({"KEYS", "pd:rate:*"})) out[k] = redis.Cmd({"HGETALL", k});
  return out;
}

}  // namespace

TEST_CASE("limits: with max N, the (N+1)th message in a window gets 421 with retry_after") {
  RedisServer redis;
  StoreHarness store(redis.port(), LimitConfig({{SubjectKind::kUser, Metric::kMessages, 5, kHour}}));
  SetUpUser(redis);
  for (int i = 0; i < 5; ++i) {
    CHECK(store.Decide(Eom(), kNow + i * 1000).action == Action::kDunno);
  }
  Verdict v = store.Decide(Eom(), kNow + 5000);
  REQUIRE(v.action == Action::kThrottled);
  CHECK(v.count == 5);
  CHECK(v.max == 5);
  std::string reply = FormatVerdict(v, store.config());
  CHECK(reply.rfind("421 4.7.1 Rate limit exceeded: messages 5/5 per 1h; try again in ", 0) == 0);
  // The oldest message leaves the window (one hour plus at most one sub-bucket) then.
  CHECK(v.retry_after_s >= 3600 - 5);
  CHECK(v.retry_after_s <= 3600 + 60);
  CHECK(store.Decide(Eom(), kNow + 5000 + v.retry_after_s * 1000).action == Action::kDunno);
}

TEST_CASE("limits: no window-length interval ever admits more than N, and N are admitted") {
  RedisServer redis;
  const uint64_t n = 7;
  StoreHarness store(redis.port(), LimitConfig({{SubjectKind::kUser, Metric::kMessages, n, kHour}}));
  SetUpUser(redis);
  std::mt19937_64 rng(42);
  std::vector<uint64_t> admitted;
  uint64_t t = kNow;
  for (int i = 0; i < 600; ++i) {
    t += 1000 + rng() % (20 * 60 * 1000);  // irregular arrivals over about four days
    if (store.Decide(Eom(), t).action == Action::kDunno) admitted.push_back(t);
  }
  uint64_t worst = 0;
  for (size_t i = 0; i < admitted.size(); ++i) {
    uint64_t in_window = 0;
    for (size_t j = i; j < admitted.size() && admitted[j] < admitted[i] + kHour; ++j) ++in_window;
    worst = std::max(worst, in_window);
  }
  CHECK(worst == n);
}

TEST_CASE("limits: capacity returns gradually as sub-buckets age out") {
  RedisServer redis;
  StoreHarness store(redis.port(), LimitConfig({{SubjectKind::kUser, Metric::kMessages, 4, kHour}}));
  SetUpUser(redis);
  // One message in each of four sub-buckets, ten minutes apart.
  for (int i = 0; i < 4; ++i) {
    CHECK(store.Decide(Eom(), kNow + i * 10 * 60 * 1000).action == Action::kDunno);
  }
  CHECK(store.Decide(Eom(), kNow + 31 * 60 * 1000).action == Action::kThrottled);
  // Just over an hour (plus one sub-bucket) after the first: exactly one slot has returned.
  uint64_t t = kNow + kHour + 2 * kBucket;
  CHECK(store.Decide(Eom(), t).action == Action::kDunno);
  CHECK(store.Decide(Eom(), t + 1000).action == Action::kThrottled);
  t = kNow + 10 * 60 * 1000 + kHour + 2 * kBucket;
  CHECK(store.Decide(Eom(), t).action == Action::kDunno);
  CHECK(store.Decide(Eom(), t + 1000).action == Action::kThrottled);
}

TEST_CASE("limits: retry_after is never early by more than one sub-bucket") {
  RedisServer redis;
  StoreHarness store(redis.port(), LimitConfig({{SubjectKind::kUser, Metric::kMessages, 3, kHour}}));
  SetUpUser(redis);
  std::mt19937_64 rng(7);
  uint64_t t = kNow;
  int checked = 0;
  for (int i = 0; i < 200; ++i) {
    t += rng() % (15 * 60 * 1000);
    Verdict v = store.Decide(Eom(), t);
    if (v.action != Action::kThrottled) continue;
    // Probe (read-only explain) just after the promised time plus one sub-bucket.
    Verdict later = store.Decide(Eom(), t + v.retry_after_s * 1000 + kBucket, true);
    CHECK(later.action == Action::kDunno);
    ++checked;
  }
  CHECK(checked > 20);
}

TEST_CASE("limits: recipients and bytes are limited the same way") {
  RedisServer redis;
  StoreHarness store(redis.port(),
                     LimitConfig({{SubjectKind::kUser, Metric::kRecipients, 10, kHour},
                                  {SubjectKind::kAccount, Metric::kBytes, 5000, 24 * kHour}}));
  SetUpUser(redis);
  CHECK(store.Decide(Eom(4, 1000), kNow).action == Action::kDunno);
  CHECK(store.Decide(Eom(4, 1000), kNow + 1).action == Action::kDunno);
  Verdict v = store.Decide(Eom(4, 1000), kNow + 2);
  CHECK(v.action == Action::kThrottled);
  CHECK(v.metric == "recipients");
  CHECK(v.count == 8);
  CHECK(store.Decide(Eom(2, 1000), kNow + 3).action == Action::kDunno);
  Verdict b = store.Decide(Eom(0, 2500), kNow + 4);
  CHECK(b.action == Action::kThrottled);
  CHECK(b.metric == "bytes");
  CHECK(b.count == 3000);
  CHECK(FormatVerdict(b, store.config()).find("bytes 3000/5000 per 1d") != std::string::npos);
}

TEST_CASE("limits: a refused END-OF-MESSAGE leaves every counter unchanged") {
  RedisServer redis;
  StoreHarness store(redis.port(),
                     LimitConfig({{SubjectKind::kUser, Metric::kMessages, 100, kHour},
                                  {SubjectKind::kIp, Metric::kRecipients, 100, kHour},
                                  {SubjectKind::kAccount, Metric::kBytes, 5000, kHour}}));
  SetUpUser(redis);
  CHECK(store.Decide(Eom(3, 4000), kNow).action == Action::kDunno);
  auto before = RateState(redis);
  CHECK(before.size() == 3);
  // Messages and recipients would fit; bytes do not: nothing may be counted.
  CHECK(store.Decide(Eom(3, 4000), kNow + 2 * kBucket).action == Action::kThrottled);
  CHECK(RateState(redis) == before);
}

TEST_CASE("limits: a repeated identical END-OF-MESSAGE counts once") {
  RedisServer redis;
  StoreHarness store(redis.port(), LimitConfig({{SubjectKind::kUser, Metric::kMessages, 2, kHour}}));
  SetUpUser(redis);
  PolicyRequest same = Eom(1, 100, "retry-me");
  for (int i = 0; i < 5; ++i) CHECK(store.Decide(same, kNow + i).action == Action::kDunno);
  CHECK(redis.CmdOne({"HGET", "pd:rate:{user:alice}", "messages:3600:total"}) == "1");
  CHECK(store.Decide(Eom(), kNow + 10).action == Action::kDunno);
  CHECK(store.Decide(Eom(), kNow + 11).action == Action::kThrottled);
}

TEST_CASE("limits: a repeat is recognised across a dedup slice boundary, and forgotten later") {
  RedisServer redis;
  Config c = LimitConfig({{SubjectKind::kUser, Metric::kMessages, 5, kHour}});
  StoreHarness store(redis.port(), c);
  SetUpUser(redis);
  const uint64_t ttl = c.policy.dedup_ttl_ms;
  const uint64_t edge = (kNow / ttl + 1) * ttl;  // answers are kept in slices of dedup_ttl
  PolicyRequest same = Eom(1, 100, "across");
  CHECK(store.Decide(same, edge - 1000).rule == "counted");
  CHECK(store.Decide(same, edge + 1000).rule == "counted (repeat)");
  CHECK(redis.CmdOne({"HGET", "pd:rate:{user:alice}", "messages:3600:total"}) == "1");
  // Two slices later the answer is gone: the same request counts again.
  CHECK(store.Decide(same, edge + 2 * ttl).rule == "counted");
  CHECK(redis.CmdOne({"HGET", "pd:rate:{user:alice}", "messages:3600:total"}) == "2");
}

TEST_CASE("limits: RCPT is a read-only pre-check that refuses early once over a limit") {
  RedisServer redis;
  StoreHarness store(redis.port(), LimitConfig({{SubjectKind::kUser, Metric::kMessages, 2, kHour}}));
  SetUpUser(redis);
  CHECK(store.Decide(Rcpt("a", "x@dest.example"), kNow).action == Action::kDunno);
  CHECK(redis.Cmd({"KEYS", "pd:rate:*"}).empty());
  CHECK(store.Decide(Eom(), kNow + 1).action == Action::kDunno);
  CHECK(store.Decide(Eom(), kNow + 2).action == Action::kDunno);
  CHECK(store.Decide(Rcpt("b", "x@dest.example"), kNow + 3).action == Action::kThrottled);
}

TEST_CASE("limits: count_at = rcpt counts the message at its first RCPT and each recipient") {
  RedisServer redis;
  Config c = LimitConfig({{SubjectKind::kUser, Metric::kMessages, 2, kHour},
                          {SubjectKind::kUser, Metric::kRecipients, 3, kHour}});
  c.policy.count_at = CountAt::kRcpt;
  StoreHarness store(redis.port(), c);
  SetUpUser(redis);
  CHECK(store.Decide(Rcpt("m1", "a@dest.example"), kNow).action == Action::kDunno);
  CHECK(store.Decide(Rcpt("m1", "a@dest.example"), kNow + 1).action == Action::kDunno);  // retry
  CHECK(store.Decide(Rcpt("m1", "b@dest.example"), kNow + 2).action == Action::kDunno);
  CHECK(redis.CmdOne({"HGET", "pd:rate:{user:alice}", "messages:3600:total"}) == "1");
  CHECK(redis.CmdOne({"HGET", "pd:rate:{user:alice}", "recipients:3600:total"}) == "2");
  CHECK(store.Decide(Eom(2), kNow + 3).action == Action::kDunno);  // EOM counts nothing now
  CHECK(redis.CmdOne({"HGET", "pd:rate:{user:alice}", "messages:3600:total"}) == "1");
  CHECK(store.Decide(Rcpt("m2", "c@dest.example"), kNow + 4).action == Action::kDunno);
  Verdict v = store.Decide(Rcpt("m2", "d@dest.example"), kNow + 5);
  CHECK(v.action == Action::kThrottled);
  CHECK(v.metric == "recipients");
}

TEST_CASE("limits: per-user overrides replace the plan's max") {
  RedisServer redis;
  StoreHarness store(redis.port(), LimitConfig({{SubjectKind::kUser, Metric::kMessages, 1, kHour}}));
  SetUpUser(redis);
  redis.Cmd({"HSET", "pd:user:{user:alice}", "limit:user:messages:3600", "3"});
  for (int i = 0; i < 3; ++i) CHECK(store.Decide(Eom(), kNow + i).action == Action::kDunno);
  CHECK(store.Decide(Eom(), kNow + 3).action == Action::kThrottled);
}

TEST_CASE("limits: every throttle is recorded as evidence of the subject") {
  RedisServer redis;
  StoreHarness store(redis.port(), LimitConfig({{SubjectKind::kUser, Metric::kMessages, 1, kHour}}));
  SetUpUser(redis);
  CHECK(store.Decide(Eom(), kNow).action == Action::kDunno);
  CHECK(store.Decide(Eom(), kNow + 1).action == Action::kThrottled);
  CHECK(store.Decide(Eom(), kNow + 2).action == Action::kThrottled);
  CHECK(redis.CmdOne({"LLEN", "pd:evidence:{user:alice}"}) == "2");
  CHECK(redis.CmdOne({"LLEN", "pd:throttles:{user:alice}"}) == "2");
  std::string entry = redis.CmdOne({"LINDEX", "pd:evidence:{user:alice}", "0"});
  CHECK(entry.find("\"kind\":\"throttle\"") != std::string::npos);
  CHECK(entry.find("messages 1\\/1") != std::string::npos);
}

}  // namespace policyd::test
