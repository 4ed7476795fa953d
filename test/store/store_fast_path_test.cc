// Issue 16 at the store level: decide.lua's fast path (ARGV[33] = '1', the access cache's
// facts in ARGV[34-37]) answers and writes what the full path does. Two redis-servers hold the
// same data and get the same requests at the same injected times: one through the full path,
// the other through the fast path with the facts access_facts.lua gave before its first
// request, as PolicyStore keeps them (ParseAccessFacts, then AppendFastPathArgs). Every reply,
// and the Redis state at the end, must be the same on both.
#include <doctest/doctest.h>

#include <algorithm>
#include <map>

#include "core/access_cache.h"
#include "core/decide_args.h"
#include "redis_server.h"
#include "store/script_runner.h"

namespace policyd::test {
namespace {

using Strings = std::vector<std::string>;

constexpr uint64_t kNow = 1'800'000'000'000;
constexpr uint64_t kHour = 3600 * 1000;

PolicyRequest Eom(const std::string& instance, int rcpts = 2) {
  return MakeRequest({{"protocol_state", "END-OF-MESSAGE"}, {"sasl_username", "alice"},
                      {"sender", "alice@example.com"}, {"recipient_count", std::to_string(rcpts)},
                      {"size", "1000"}, {"client_address", "192.0.2.10"},
                      {"client_port", "40000"}, {"instance", instance}});
}

PolicyRequest Rcpt(const std::string& instance, const std::string& recipient) {
  return MakeRequest({{"protocol_state", "RCPT"}, {"sasl_username", "alice"},
                      {"sender", "alice@example.com"}, {"recipient", recipient},
                      {"size", "1000"}, {"client_address", "192.0.2.10"},
                      {"client_port", "40000"}, {"instance", instance}});
}

// Every key with its contents (a stream by its length: Redis gives its entries ids by the
// wall clock), so two servers' states compare whole.
std::map<std::string, Strings> State(RedisServer& redis) {
  std::map<std::string, Strings> out;
  for (const std::string& k : redis.Keys()) {
    std::string type = redis.CmdOne({"TYPE", k});
    Strings v;
    if (type == "hash") {  // field order is the hash table's: sorted here
      Strings flat = redis.Cmd({"HGETALL", k});
      for (size_t i = 0; i + 1 < flat.size(); i += 2) v.push_back(flat[i] + "=" + flat[i + 1]);
      std::sort(v.begin(), v.end());
    } else if (type == "string") {
      v = redis.Cmd({"GET", k});
    } else if (type == "zset") {
      v = redis.Cmd({"ZRANGE", k, "0", "-1", "WITHSCORES"});
    } else if (type == "set") {
      v = redis.Cmd({"SMEMBERS", k});
      std::sort(v.begin(), v.end());
    } else if (type == "list") {
      v = redis.Cmd({"LRANGE", k, "0", "-1"});
    } else if (type == "stream") {
      v = redis.Cmd({"XLEN", k});
    }
    v.insert(v.begin(), type);
    out[k] = std::move(v);
  }
  return out;
}

// The keys whose contents differ between the two servers' states, each with both contents
// (empty: the same state).
std::string StateDifference(RedisServer& a, RedisServer& b) {
  std::map<std::string, Strings> sa = State(a), sb = State(b);
  std::string out;
  auto text = [](const std::map<std::string, Strings>& s, const std::string& k) {
    auto it = s.find(k);
    if (it == s.end()) return std::string("(none)");
    std::string t;
    for (const std::string& v : it->second) t += v + " ";
    return t;
  };
  std::map<std::string, bool> keys;
  for (const auto& [k, _] : sa) keys[k] = true;
  for (const auto& [k, _] : sb) keys[k] = true;
  for (const auto& [k, _] : keys) {
    if (text(sa, k) != text(sb, k)) out += k + ": " + text(sa, k) + "| " + text(sb, k) + "\n";
  }
  return out;
}

// The full path's and the fast path's replies to one request.
struct Replies {
  Strings full, fast;
  Verdict verdict;  // the full path's, parsed
  std::string text;  // its FormatVerdict
};

struct Twins {
  RedisServer full, fast;
  Config config;
  std::string plans;
  AbuseSpecs abuse;
  Strings fast_args;  // ARGV[33...]: empty until CacheFacts
  int reports = 0;

  explicit Twins(Config c)
      : config(std::move(c)), plans(PlansSpec(config)), abuse(AbuseSpec(config)) {
    Both({"FUNCTION", "LOAD", "REPLACE", Library().code});
    Both({"HSET", "pd:user:{user:alice}", "account", "acme", "mode", "account", "plan",
          "limited"});
    Both({"HSET", "pd:domains:{account:acme}", "example.com", "verified"});
  }

  void Both(const Strings& argv) {
    full.Cmd(argv);
    fast.Cmd(argv);
  }

  Strings Args(const PolicyRequest& request, uint64_t now) {
    DecideOptions options;
    options.now_ms = now;
    char id[21];
    snprintf(id, sizeof id, "%020d", ++reports);  // the same report id on both servers
    options.report_id = id;
    return BuildDecideArgs(request, config, options, plans, abuse);
  }

  // What the access cache would hold after its fill for `request` (on the fast server).
  void CacheFacts(const PolicyRequest& request, uint64_t now) {
    Strings args = Args(request, now);
    Strings argv{"FCALL_RO", FindScript("access_facts")->function, "0"};
    argv.insert(argv.end(), args.begin(), args.begin() + 31);  // ARGV 1-31, as Fill sends
    std::optional<AccessFacts> facts = ParseAccessFacts(fast.Cmd(argv));
    REQUIRE(facts.has_value());
    REQUIRE_FALSE(facts->full);  // a plain pass: the fast path applies
    fast_args.clear();
    AppendFastPathArgs(*facts, &fast_args);
  }

  Replies Decide(const PolicyRequest& request, uint64_t now) {
    REQUIRE_FALSE(fast_args.empty());
    Strings args = Args(request, now);
    Strings argv{"FCALL", FindScript("decide")->function, "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    Replies r;
    r.full = full.Cmd(argv);
    argv.insert(argv.end(), fast_args.begin(), fast_args.end());
    r.fast = fast.Cmd(argv);
    Result<Verdict> v = ParseDecideReply(r.full);
    const std::string first = r.full.empty() ? "no reply" : r.full[0];
    REQUIRE_MESSAGE(v.ok(), first);
    r.verdict = *v;
    r.text = FormatVerdict(r.verdict, config);
    return r;
  }

  // Decide, and the fast path's reply is the full path's.
  Replies Same(const PolicyRequest& request, uint64_t now) {
    Replies r = Decide(request, now);
    CHECK(r.fast == r.full);
    return r;
  }
};

Config LimitConfig(uint64_t messages_per_hour) {
  Config c = TestConfig();
  c.plans["limited"] = Plan{"limited", false,
                            {{SubjectKind::kUser, Metric::kMessages, messages_per_hour, kHour},
                             {SubjectKind::kAccount, Metric::kRecipients, 1000, kHour}}};
  return c;
}

}  // namespace

TEST_CASE("fast path: RCPT and END-OF-MESSAGE pass, count and repeat as the full path") {
  Twins t(LimitConfig(100));
  t.CacheFacts(Rcpt("m1", "r1@dest.example"), kNow);
  for (int i = 0; i < 3; ++i) {
    const std::string m = "m" + std::to_string(i);
    uint64_t at = kNow + i * 60'000;
    Replies rcpt = t.Same(Rcpt(m, "r1@dest.example"), at);
    CHECK(rcpt.verdict.action == Action::kDunno);
    CHECK(t.Same(Rcpt(m, "r2@dest.example"), at + 1).verdict.action == Action::kDunno);
    Replies eom = t.Same(Eom(m), at + 2);
    CHECK(eom.verdict.action == Action::kDunno);
    CHECK(eom.text == "DUNNO");
  }
  // Postfix asking again (no answer reached it): the same answer, counted once.
  Replies again = t.Same(Eom("m2"), kNow + 120'000 + 500);
  CHECK(again.full[1].find("(repeat)") != std::string::npos);
  CHECK(t.full.CmdOne({"HGET", "pd:rate:{user:alice}", "messages:3600:total"}) == "3");
  CHECK(StateDifference(t.fast, t.full) == "");
}

TEST_CASE("fast path: a rate refusal is the full path's refusal, and so is its repeat") {
  Twins t(LimitConfig(2));
  t.CacheFacts(Eom("m0"), kNow);
  CHECK(t.Same(Eom("m0"), kNow).verdict.action == Action::kDunno);
  CHECK(t.Same(Eom("m1"), kNow + 1000).verdict.action == Action::kDunno);
  Replies refused = t.Same(Eom("m2"), kNow + 2000);
  REQUIRE(refused.verdict.action == Action::kThrottled);
  CHECK(refused.text.rfind("421 4.7.1 Rate limit exceeded: messages 2/2 per 1h", 0) == 0);
  // The next transaction's RCPT pre-check, and Postfix repeating the refused message.
  CHECK(t.Same(Rcpt("m3", "r@dest.example"), kNow + 3000).verdict.action == Action::kThrottled);
  Replies repeat = t.Same(Eom("m2"), kNow + 4000);
  CHECK(repeat.verdict.action == Action::kThrottled);
  CHECK(StateDifference(t.fast, t.full) == "");
}

TEST_CASE("fast path: a block created after the facts were cached is in force at once") {
  Twins t(LimitConfig(100));
  t.CacheFacts(Rcpt("m0", "r@dest.example"), kNow);
  CHECK(t.Same(Rcpt("m0", "r@dest.example"), kNow).verdict.action == Action::kDunno);
  // No invalidation reaches these facts here: decide.lua's own block check must refuse.
  const Script* add = FindScript("block_add");
  REQUIRE(add != nullptr);
  t.Both({"FCALL", add->function, "0", "pd:", std::to_string(kNow + 1000), "user:alice",
          "spam", "42 complaints", std::to_string(kHour), "aaaaaaaaaabbbbbbbbbb", "2592000000",
          "50", "2592000000", "test"});
  for (const PolicyRequest& r : {Rcpt("m1", "r@dest.example"), Eom("m1")}) {
    Replies blocked = t.Same(r, kNow + 2000);
    CHECK(blocked.verdict.action == Action::kBlocked);
    CHECK(blocked.verdict.report_id == "aaaaaaaaaabbbbbbbbbb");
    CHECK(blocked.text.rfind("550 5.7.1 [ABUSE] Sender blocked", 0) == 0);
  }
  CHECK(StateDifference(t.fast, t.full) == "");
}

// The cases above would pass if the fast path were never taken: this one shows it is (the
// cached limits, not the user's record, decide), so a broken fast path cannot hide behind
// the full path.
TEST_CASE("fast path: the limits it applies are the cached ones from ARGV[34]") {
  Twins t(LimitConfig(100));
  t.CacheFacts(Eom("m0"), kNow);
  CHECK(t.fast_args.size() == 5);
  CHECK(t.fast_args[0] == "1");
  CHECK(t.fast_args[1] == "user:messages:3600:100,account:recipients:3600:1000");
  CHECK(t.Same(Eom("m0"), kNow).verdict.action == Action::kDunno);
  // A plan change without the invalidation that would empty the cache.
  t.Both({"HSET", "pd:user:{user:alice}", "limit:user:messages:3600", "1"});
  Replies r = t.Decide(Eom("m1"), kNow + 1000);
  CHECK(r.verdict.action == Action::kThrottled);
  CHECK(r.fast[0] == "dunno");
}

}  // namespace policyd::test
