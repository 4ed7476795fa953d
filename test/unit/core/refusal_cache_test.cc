// The local refusal cache (issue 16): which requests may reuse a 421, until when, and how
// its throttles are batched so that escalation stays with Redis near a block.
#include "core/refusal_cache.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace policyd {
namespace {

using Attrs = std::vector<std::pair<std::string, std::string>>;

PolicyRequest Eom(const Attrs& extra = {}) {
  PolicyRequest r;
  r.Add("request", "smtpd_access_policy");
  Attrs attrs = {{"protocol_state", "END-OF-MESSAGE"}, {"sasl_username", "alice"},
                 {"sender", "alice@example.com"},     {"client_address", "192.0.2.1"},
                 {"recipient_count", "3"},            {"size", "2048"}};
  for (const auto& [n, v] : extra) {
    for (auto& a : attrs) {
      if (a.first == n) a.second = v;
    }
  }
  for (const auto& [n, v] : attrs) r.Add(n, v);
  return r;
}

Verdict Throttled(std::string metric = "messages", uint64_t retry_s = 30) {
  Verdict v;
  v.action = Action::kThrottled;
  v.rule = "rate user." + metric + ".3600s";
  v.metric = metric;
  v.count = 10;
  v.max = 10;
  v.window_ms = 3600000;
  v.retry_after_s = retry_s;
  return v;
}

RefusalKey KeyOf(const PolicyRequest& r, const Config& c = Config{}) {
  std::optional<RefusalKey> k = RefusalCache::KeyFor(r, c);
  REQUIRE(k.has_value());
  return *k;
}

// A cache whose subject "user:alice" has the given headroom recorded.
RefusalCache Primed(int64_t headroom, RefusalCacheLimits limits = {}) {
  RefusalCache cache(limits);
  REQUIRE(cache.Remember(KeyOf(Eom()), Throttled(), 1000, cache.generation()));
  std::vector<ThrottleBatch> b = cache.TakeBatches();
  REQUIRE(b.size() == 1);
  CHECK(b[0].n == 0);  // a probe
  cache.OnRecorded("user:alice", 5 + 1 - headroom, false, 5, cache.generation());
  return cache;
}

}  // namespace

TEST_CASE("refusal_cache: only stages that reach Redis under count_at = eom have a key") {
  Config c;
  CHECK(RefusalCache::KeyFor(Eom(), c).has_value());
  CHECK_FALSE(RefusalCache::KeyFor(Eom({{"protocol_state", "DATA"}}), c).has_value());
  CHECK_FALSE(RefusalCache::KeyFor(Eom({{"sasl_username", ""}}), c).has_value());
  c.policy.unauthenticated = UnauthenticatedPolicy::kSender;
  CHECK(KeyOf(Eom({{"sasl_username", ""}}), c).subject == "sender:alice@example.com");
  c.policy.count_at = CountAt::kRcpt;
  CHECK_FALSE(RefusalCache::KeyFor(Eom(), c).has_value());
}

TEST_CASE("refusal_cache: the key separates stage, user, sender and client address") {
  std::string base = KeyOf(Eom()).key;
  CHECK(KeyOf(Eom({{"size", "1"}})).key == base);  // cost is compared, not keyed
  CHECK(KeyOf(Eom({{"protocol_state", "RCPT"}})).key != base);
  CHECK(KeyOf(Eom({{"sasl_username", "bob"}})).key != base);
  CHECK(KeyOf(Eom({{"sender", "alice@other.example"}})).key != base);
  CHECK(KeyOf(Eom({{"client_address", "192.0.2.2"}})).key != base);
}

TEST_CASE("refusal_cache: nothing is answered before the subject's headroom is known") {
  RefusalCache cache;
  CHECK(cache.Remember(KeyOf(Eom()), Throttled(), 1000, cache.generation()));
  CHECK_FALSE(cache.Answer(KeyOf(Eom()), 1001).has_value());
}

TEST_CASE("refusal_cache: a refusal is reused until retry_after, counting down") {
  RefusalCache cache = Primed(100000);
  std::optional<Verdict> v = cache.Answer(KeyOf(Eom()), 1000);
  REQUIRE(v.has_value());
  CHECK(v->retry_after_s == 30);
  CHECK(v->metric == "messages");
  v = cache.Answer(KeyOf(Eom()), 11000);
  REQUIRE(v.has_value());
  CHECK(v->retry_after_s == 20);
  // Redis rounded retry_after up, so the last second goes back to Redis.
  CHECK(cache.Answer(KeyOf(Eom()), 29999).has_value());
  CHECK_FALSE(cache.Answer(KeyOf(Eom()), 30000).has_value());
  CHECK(cache.size() == 0);
}

TEST_CASE("refusal_cache: only 421s with retry_after of 2 s or more are kept") {
  RefusalCache cache;
  Verdict dunno;
  CHECK_FALSE(cache.Remember(KeyOf(Eom()), dunno, 0, cache.generation()));
  CHECK_FALSE(cache.Remember(KeyOf(Eom()), Throttled("messages", 1), 0, cache.generation()));
  Verdict blocking = Throttled();
  blocking.created_block = "rate";
  CHECK_FALSE(cache.Remember(KeyOf(Eom()), blocking, 0, cache.generation()));
}

TEST_CASE("refusal_cache: a decision in flight across Clear() is not remembered") {
  RefusalCache cache;
  uint64_t sent_at = cache.generation();
  cache.Clear();
  CHECK_FALSE(cache.Remember(KeyOf(Eom()), Throttled(), 0, sent_at));
  CHECK(cache.size() == 0);
}

TEST_CASE("refusal_cache: Clear() forgets refusals and headroom") {
  RefusalCache cache = Primed(100000);
  cache.Clear();
  CHECK_FALSE(cache.Answer(KeyOf(Eom()), 1000).has_value());
  CHECK(cache.TakeBatches().empty());
}

TEST_CASE("refusal_cache: throttles answered before a Clear() are still taken") {
  RefusalCache cache = Primed(100000);
  for (int i = 0; i < 3; ++i) REQUIRE(cache.Answer(KeyOf(Eom()), 2000).has_value());
  uint64_t before = cache.generation();
  cache.Clear();
  CHECK(cache.generation() != before);
  CHECK(cache.size() == 0);
  CHECK_FALSE(cache.Answer(KeyOf(Eom()), 2000).has_value());  // no refusal, no headroom
  std::vector<ThrottleBatch> b = cache.TakeBatches();
  REQUIRE(b.size() == 1);
  CHECK(b[0].subject == "user:alice");
  CHECK(b[0].n == 3);
  CHECK(b[0].detail == "messages 10/10 per 3600s (user)");
  CHECK(cache.TakeBatches().empty());
  SUBCASE("its record after the Clear() gives the subject a headroom again") {
    cache.OnRecorded("user:alice", 3, false, 100000, cache.generation());
    REQUIRE(cache.Remember(KeyOf(Eom()), Throttled(), 2000, cache.generation()));
    CHECK(cache.Answer(KeyOf(Eom()), 2000).has_value());
  }
}

TEST_CASE("refusal_cache: a cheaper request than the refused one goes to Redis") {
  RefusalCache cache;
  RefusalKey big = KeyOf(Eom({{"size", "5000"}}));
  REQUIRE(cache.Remember(big, Throttled("bytes"), 0, cache.generation()));
  cache.TakeBatches();
  cache.OnRecorded("user:alice", 0, false, 100000, cache.generation());
  CHECK_FALSE(cache.Answer(KeyOf(Eom({{"size", "4999"}})), 10).has_value());
  CHECK(cache.Answer(KeyOf(Eom({{"size", "5000"}})), 10).has_value());
  CHECK(cache.Answer(KeyOf(Eom({{"size", "9000"}})), 10).has_value());
}

TEST_CASE("refusal_cache: local refusals are batched per subject as throttles") {
  RefusalCache cache = Primed(100000);
  for (int i = 0; i < 3; ++i) REQUIRE(cache.Answer(KeyOf(Eom()), 2000).has_value());
  std::vector<ThrottleBatch> b = cache.TakeBatches();
  REQUIRE(b.size() == 1);
  CHECK(b[0].subject == "user:alice");
  CHECK(b[0].n == 3);
  CHECK(b[0].detail == "messages 10/10 per 3600s (user)");
  CHECK(cache.TakeBatches().empty());  // taken once
}

TEST_CASE("refusal_cache: a subject near escalation is left to Redis") {
  RefusalCacheLimits limits;
  limits.escalation_margin = 10;
  limits.max_batch_per_subject = 100;
  RefusalCache cache = Primed(13, limits);
  CHECK(cache.Answer(KeyOf(Eom()), 2000).has_value());   // 13 - 0 - 1 = 12 > 10
  CHECK(cache.Answer(KeyOf(Eom()), 2000).has_value());   // 13 - 1 - 1 = 11 > 10
  CHECK_FALSE(cache.Answer(KeyOf(Eom()), 2000).has_value());
  SUBCASE("the default throttle_events = 5 never reaches the cache") {
    RefusalCache fresh;
    REQUIRE(fresh.Remember(KeyOf(Eom()), Throttled(), 0, fresh.generation()));
    fresh.TakeBatches();
    fresh.OnRecorded("user:alice", 1, false, 5, fresh.generation());
    CHECK_FALSE(fresh.Answer(KeyOf(Eom()), 10).has_value());
  }
}

TEST_CASE("refusal_cache: at most max_batch_per_subject refusals wait for a flush") {
  RefusalCacheLimits limits;
  limits.max_batch_per_subject = 2;
  RefusalCache cache = Primed(100000, limits);
  CHECK(cache.Answer(KeyOf(Eom()), 2000).has_value());
  CHECK(cache.Answer(KeyOf(Eom()), 2000).has_value());
  CHECK_FALSE(cache.Answer(KeyOf(Eom()), 2000).has_value());
  cache.TakeBatches();
  CHECK(cache.Answer(KeyOf(Eom()), 2000).has_value());
}

TEST_CASE("refusal_cache: a recorded block, or a stale record, ends local answers") {
  RefusalCache cache = Primed(100000);
  uint64_t old = cache.generation();
  cache.OnRecorded("user:alice", 6, false, 5, old + 1);  // stale: ignored
  CHECK(cache.Answer(KeyOf(Eom()), 2000).has_value());
  cache.OnRecorded("user:alice", 0, true, 5, old);
  CHECK(cache.size() == 0);
  CHECK(cache.generation() != old);
}

}  // namespace policyd
