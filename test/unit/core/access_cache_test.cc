// The access cache (issue 16): access_facts' answers kept per (subject, sender, domain,
// client), never stored across a Clear(), bounded; and the fast path's ARGV layout.
#include "core/access_cache.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace policyd {
namespace {

AccessFacts Pass(std::string plan = "basic") {
  AccessFacts f;
  f.full = false;
  f.plan = std::move(plan);
  return f;
}

TEST_CASE("access_facts replies parse: full, pass with overrides, malformed") {
  std::optional<AccessFacts> full = ParseAccessFacts({"full"});
  REQUIRE(full);
  CHECK(full->full);

  std::optional<AccessFacts> pass = ParseAccessFacts(
      {"pass", "pro", "acme", "500", "10000", "limit:user:messages:3600", "7"});
  REQUIRE(pass);
  CHECK_FALSE(pass->full);
  CHECK(pass->plan == "pro");
  CHECK(pass->account == "acme");
  CHECK(pass->user_quota == "500");
  CHECK(pass->account_quota == "10000");
  REQUIRE(pass->overrides.size() == 1);
  CHECK(pass->overrides[0].first == "limit:user:messages:3600");
  CHECK(pass->overrides[0].second == "7");

  CHECK_FALSE(ParseAccessFacts({}));
  CHECK_FALSE(ParseAccessFacts({"pass", "pro", "acme"}));
  CHECK_FALSE(ParseAccessFacts({"pass", "pro", "acme", "", "", "limit:user:messages:3600"}));
  CHECK_FALSE(ParseAccessFacts({"block"}));
}

TEST_CASE("the fast path's ARGV[33...] are '1', plan, account, quotas, override pairs") {
  AccessFacts f = Pass("pro");
  f.account = "acme";
  f.account_quota = "10000";
  f.overrides = {{"limit:user:messages:3600", "7"}, {"limit:ip:bytes:60", "9"}};
  std::vector<std::string> args(32, "x");
  AppendFastPathArgs(f, &args);
  REQUIRE(args.size() == 32 + 5 + 4);
  CHECK(args[32] == "1");  // ARGV[33]
  CHECK(args[33] == "pro");
  CHECK(args[34] == "acme");
  CHECK(args[35] == "");
  CHECK(args[36] == "10000");
  CHECK(args[37] == "limit:user:messages:3600");
  CHECK(args[38] == "7");
  CHECK(args[40] == "9");
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
  CHECK(cache.Find("k1")->plan == "basic");
  CHECK(cache.Find("k2") == nullptr);

  uint64_t sent = cache.generation();
  cache.Clear();  // an invalidation (or a lost connection) while the fill was in flight
  CHECK(cache.size() == 0);
  CHECK(cache.Find("k1") == nullptr);
  CHECK_FALSE(cache.Store("k2", Pass(), sent));
  CHECK(cache.Find("k2") == nullptr);
  CHECK(cache.Store("k2", Pass("pro"), cache.generation()));
  CHECK(cache.Find("k2")->plan == "pro");
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
  CHECK(cache.Store("c", Pass("pro"), g));
  CHECK(cache.size() == 3);
  CHECK(cache.Store("d", Pass(), g));
  CHECK(cache.size() == 1);
  CHECK(cache.Find("a") == nullptr);
  CHECK(cache.Find("d") != nullptr);
  CHECK(cache.generation() == g);  // nothing stored was stale: fills in flight still count
}

}  // namespace
}  // namespace policyd
