// The access cache (issue 16): access_facts' answers kept per (subject, sender, domain,
// client), never stored across a Clear(), bounded; and the fast path's ARGV layout.
#include "core/access_cache.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace policyd {
namespace {

AccessFacts Pass(std::string account = "acme") {
  AccessFacts f;
  f.full = false;
  f.account = std::move(account);
  return f;
}

TEST_CASE("access_facts replies parse: full, pass with resolved limits, malformed") {
  std::optional<AccessFacts> full = ParseAccessFacts({"full", "0"});
  REQUIRE(full);
  CHECK(full->full);
  CHECK_FALSE(full->per_client);
  std::optional<AccessFacts> full_here = ParseAccessFacts({"full", "1"});
  REQUIRE(full_here);
  CHECK(full_here->full);
  CHECK(full_here->per_client);

  std::optional<AccessFacts> pass = ParseAccessFacts(
      {"pass", "user:messages:3600:7,ip:bytes:60:1.5e+09", "acme", "500", "10000", "1"});
  REQUIRE(pass);
  CHECK_FALSE(pass->full);
  CHECK(pass->limits_text == "user:messages:3600:7,ip:bytes:60:1.5e+09");
  REQUIRE(pass->limits.size() == 2);
  CHECK(pass->limits[0].subject == "user");
  CHECK(pass->limits[0].metric == "messages");
  CHECK(pass->limits[0].window_s == "3600");
  CHECK(pass->limits[0].max == 7);
  CHECK(pass->limits[1].subject == "ip");
  CHECK(pass->limits[1].metric == "bytes");
  CHECK(pass->limits[1].window_s == "60");
  CHECK(pass->limits[1].max == 1.5e9);
  CHECK(pass->account == "acme");
  CHECK(pass->user_quota == "500");
  CHECK(pass->account_quota == "10000");
  CHECK(pass->per_client);

  std::optional<AccessFacts> none = ParseAccessFacts({"pass", "", "", "", "", "0"});
  REQUIRE(none);
  CHECK(none->limits.empty());
  CHECK_FALSE(none->per_client);

  CHECK_FALSE(ParseAccessFacts({}));
  CHECK_FALSE(ParseAccessFacts({"pass", "", "acme"}));
  CHECK_FALSE(ParseAccessFacts({"full"}));
  CHECK_FALSE(ParseAccessFacts({"full", "yes"}));
  CHECK_FALSE(ParseAccessFacts({"pass", "user:messages:3600:7", "acme", "", ""}));
  CHECK_FALSE(ParseAccessFacts({"pass", "user:messages:3600:7", "acme", "", "", "x"}));
  CHECK_FALSE(ParseAccessFacts({"pass", "user:messages:3600:7", "acme", "", "", "0", "0"}));
  CHECK_FALSE(ParseAccessFacts({"pass", "user:messages:3600", "acme", "", "", "0"}));
  CHECK_FALSE(ParseAccessFacts({"block"}));
}

TEST_CASE("resolved limits: format_limits' text only, every malformed entry refused") {
  CHECK(ParseResolvedLimits("")->empty());
  CHECK(ParseResolvedLimits("account:recipients:86400:100")->size() == 1);
  CHECK_FALSE(ParseResolvedLimits("user:messages:3600:7,"));
  CHECK_FALSE(ParseResolvedLimits(",user:messages:3600:7"));
  CHECK_FALSE(ParseResolvedLimits("user:messages:1h:7"));
  CHECK_FALSE(ParseResolvedLimits("user1:messages:3600:7"));
  CHECK_FALSE(ParseResolvedLimits("user:messages:3600:"));
  CHECK_FALSE(ParseResolvedLimits("user:messages:3600:7x"));
  CHECK_FALSE(ParseResolvedLimits("user::3600:7"));
  CHECK_FALSE(ParseResolvedLimits("user:messages:3600:7:8"));
}

TEST_CASE("the fast path's ARGV[33...] are '1', resolved limits, account, quotas") {
  AccessFacts f = Pass("acme");
  f.limits_text = "user:messages:3600:7";
  f.account_quota = "10000";
  std::vector<std::string> args(32, "x");
  AppendFastPathArgs(f, &args);
  REQUIRE(args.size() == 32 + 5);
  CHECK(args[32] == "1");  // ARGV[33]
  CHECK(args[33] == "user:messages:3600:7");
  CHECK(args[34] == "acme");
  CHECK(args[35] == "");
  CHECK(args[36] == "10000");
}

TEST_CASE("a user with an IP allow-list: a marker under the any-client key, never facts") {
  AccessFacts marker = AnyClientMarker();
  CHECK(marker.full);
  CHECK(marker.per_client);
  CHECK(AccessKey("user:a", "sender:a@x", "x", kAnyClient) !=
        AccessKey("user:a", "sender:a@x", "x", ""));
  CHECK(kAnyClient.size() != 32);
}

TEST_CASE("access keys differ in every part and cannot run into each other") {
  std::string k = AccessKey("user:alice", "sender:a@example.com", "example.com", "0a");
  CHECK(k != AccessKey("user:alice", "sender:a@example.com", "example.com", "0b"));
  CHECK(k != AccessKey("user:alice", "sender:a@example.com", "example.org", "0a"));
  CHECK(k != AccessKey("user:alice", "sender:b@example.com", "example.com", "0a"));
  CHECK(k != AccessKey("user:bob", "sender:a@example.com", "example.com", "0a"));
  CHECK(AccessKey("ab", "", "c", "") != AccessKey("a", "b", "c", ""));
}

TEST_CASE("a fill is stored only if nothing was cleared since its request was sent") {
  AccessCache cache;
  uint64_t before = cache.generation();
  CHECK(cache.Store("k1", Pass(), before));
  REQUIRE(cache.Find("k1") != nullptr);
  CHECK(cache.Find("k1")->account == "acme");
  CHECK(cache.Find("k2") == nullptr);

  uint64_t sent = cache.generation();
  cache.Clear();  // an invalidation (or a lost connection) while the fill was in flight
  CHECK(cache.size() == 0);
  CHECK(cache.Find("k1") == nullptr);
  CHECK_FALSE(cache.Store("k2", Pass(), sent));
  CHECK(cache.Find("k2") == nullptr);
  CHECK(cache.Store("k2", Pass("other"), cache.generation()));
  CHECK(cache.Find("k2")->account == "other");
  AccessFacts full;
  CHECK(cache.Store("k3", full, cache.generation()));
  CHECK(cache.Find("k3")->full);
}

TEST_CASE("a full cache is emptied before the next entry, an update of a key is not") {
  AccessCache cache(3);
  uint64_t g = cache.generation();
  CHECK(cache.Store("a", Pass(), g));
  CHECK(cache.Store("b", Pass(), g));
  CHECK(cache.Store("c", Pass(), g));
  CHECK(cache.Store("c", Pass("other"), g));
  CHECK(cache.size() == 3);
  CHECK(cache.Store("d", Pass(), g));
  CHECK(cache.size() == 1);
  CHECK(cache.Find("a") == nullptr);
  CHECK(cache.Find("d") != nullptr);
  CHECK(cache.generation() == g);  // nothing stored was stale: fills in flight still count
}

}  // namespace
}  // namespace policyd
