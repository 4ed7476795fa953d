// Issue 17: access facts on a real Redis Cluster (the binary's 3+3 cluster, fixture.h). For a
// table of scenarios, ClusterAccess (the records read slot by slot, then access_eval.lua on
// any primary) answers exactly what access_facts.lua answers on one redis-server holding the
// same data, with the user, its account and the sender on three different primaries. Also:
// _common.lua domain_candidates and its C++ twin agree, and access_eval fails rather than
// answer when a record it needs was not sent.
#include <doctest/doctest.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "core/access_cache.h"
#include "core/access_prefetch.h"
#include "core/decide_args.h"
#include "core/ip_allow_list.h"
#include "fixture.h"
#include "store/cluster_access.h"
#include "store/embedded_scripts.h"

namespace policyd::test {
namespace {

using Strings = std::vector<std::string>;

// An address whose sender tag is on `primary`.
std::string SenderOn(int primary, const std::string& domain) {
  for (int n = 0;; ++n) {
    std::string address = "s" + std::to_string(n) + "@" + domain;
    if (OwnerOf("sender:" + address) == primary) return address;
  }
}

Config AccessConfig(const std::string& unknown_user) {
  Config c = TestConfig();
  c.policy.unknown_user = unknown_user;
  c.plans["default"].limits = {{SubjectKind::kUser, Metric::kMessages, 100, 3600 * 1000},
                               {SubjectKind::kIp, Metric::kRecipients, 500, 60 * 1000}};
  c.plans["gold"] = Plan{"gold", false, {{SubjectKind::kAccount, Metric::kMessages, 9000,
                                           86400 * 1000}}};
  c.plans["anyplan"] = Plan{"anyplan", true, {}};
  return c;
}

// decide.lua's ARGV 1-31 for a RCPT of `user` (none: a sender subject) from `sender`.
Strings AccessArgs(const Config& config, const std::string& user, const std::string& sender,
                   const std::string& client = "192.0.2.10") {
  std::vector<std::pair<std::string, std::string>> attrs = {
      {"protocol_state", "RCPT"}, {"sender", sender},         {"recipient", "r@dest.example"},
      {"client_address", client}, {"client_port", "40000"},   {"instance", "i-1"},
      {"size", "1000"}};
  if (!user.empty()) attrs.push_back({"sasl_username", user});
  DecideOptions options;
  options.now_ms = kNow;
  options.report_id = "00000000000000000000";
  Strings args = BuildDecideArgs(MakeRequest(attrs), config, options, PlansSpec(config),
                                 AbuseSpec(config));
  args.resize(31);
  return args;
}

// The same data on the cluster and on one redis-server; the answers of both.
struct Both {
  Cluster& cluster = SharedCluster();
  Router router{cluster.nodes[0]->port()};
  ClusterScriptRunner runner{&router.client()};
  ClusterAccess access{router.loop(), &router.client(), &runner};
  RedisServer single;

  Both() { single.Cmd({"FUNCTION", "LOAD", "REPLACE", Library().code}); }

  void Put(const Strings& argv) {
    single.Cmd(argv);
    auto r = router.Call(argv[1], argv);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    REQUIRE(!r->IsError());
  }
  void Del(const Strings& keys) {
    for (const auto& k : keys) Put({"DEL", k});
  }
  Strings OnOne(const Strings& args) {
    Strings argv{"FCALL_RO", FindScript("access_facts")->function, "0"};
    argv.insert(argv.end(), args.begin(), args.end());
    return single.Cmd(argv);
  }
  Result<Strings> OnCluster(const Strings& args) {
    std::optional<Result<Strings>> out;
    access.Read(args, 2000, [&out](Result<Strings> r) { out = std::move(r); });
    router.RunUntil([&out] { return out.has_value(); });
    REQUIRE(out.has_value());
    return std::move(*out);
  }
};

struct Scenario {
  const char* name;
  std::string unknown_user = "dunno";
  std::function<void(Both&)> data;
  bool no_user = false;  // the request has no sasl_username
  bool null_sender = false;
  std::string domain = "example.com";
  std::string client = "192.0.2.10";
  const char* expect;  // "pass" or "full"
};

}  // namespace

TEST_CASE("cluster access: _common.lua domain_candidates and DomainCandidates agree") {
  RedisServer redis;
  std::string script = std::string(kEmbeddedPrelude) +
                       "\nreturn domain_candidates(ARGV[1], ARGV[2] == '1')\n";
  int compared = 0;
  for (const char* d : {"example.com", "a.b.example.com", "localhost", "com.", "a..b", "x",
                        "xn--bcher-kva.example", "sub.example.co.uk", ""}) {
    for (bool parents : {false, true}) {
      CAPTURE(d);
      CAPTURE(parents);
      Strings lua = redis.Cmd({"EVAL", script, "0", d, parents ? "1" : "0"});
      CHECK(lua == DomainCandidates(d, parents));
      ++compared;
    }
  }
  CHECK(compared == 18);
}

TEST_CASE("cluster access: access_eval refuses to answer without a record it needs") {
  RedisServer redis;
  redis.Cmd({"FUNCTION", "LOAD", "REPLACE", Library().code});
  Config config = AccessConfig("dunno");
  Strings args = AccessArgs(config, "alice", "a@example.com");
  Strings argv{"FCALL_RO", FindScript("access_eval")->function, "0"};
  argv.insert(argv.end(), args.begin(), args.end());
  AccessReads reads = PlanAccessReads(args);
  Strings blocks = argv;
  for (const auto& k : reads.block_keys) AppendHashRecord(k, {}, &blocks);
  // The user record missing: an error naming it, not "unknown user".
  std::string err = redis.CmdOne(blocks);
  CHECK(err.find("not prefetched") != std::string::npos);
  CHECK(err.find("pd:user:{user:alice}") != std::string::npos);
  // A count running past the end of ARGV.
  Strings bad = argv;
  bad.insert(bad.end(), {"h", "pd:block:{user:alice}", "5", "reason"});
  CHECK(redis.CmdOne(bad).find("malformed record") != std::string::npos);
}

TEST_CASE("cluster access: the cluster answers what access_facts answers on one Redis") {
  Both both;
  std::string user_tag = TagOn(0, "user:u");
  std::string user = user_tag.substr(5);
  std::string account_tag = TagOn(1, "account:a");
  std::string account = account_tag.substr(8);
  std::string sender = SenderOn(2, "example.com");
  std::string sub_sender = SenderOn(2, "sub.example.com");
  CHECK(OwnerOf(user_tag) == 0);
  CHECK(OwnerOf(account_tag) == 1);
  CHECK(OwnerOf("sender:" + sender) == 2);
  CHECK(OwnerOf("sender:" + sub_sender) == 2);
  const std::string user_key = "pd:user:{" + user_tag + "}";
  const std::string grants_key = "pd:grants:{" + user_tag + "}";
  const std::string account_key = "pd:account:{" + account_tag + "}";
  const std::string domains_key = "pd:domains:{" + account_tag + "}";
  const std::string user_block = "pd:block:{" + user_tag + "}";
  auto sender_block = [](const std::string& s) { return "pd:block:{sender:" + s + "}"; };
  // A user of the account in `mode`, its domain example.com `state`, granted `grant`.
  auto customer = [&](const std::string& mode, const std::string& state,
                      const std::string& grant) {
    return [=](Both& b) {
      b.Put({"HSET", user_key, "account", account, "mode", mode});
      if (!state.empty()) b.Put({"HSET", domains_key, "example.com", state});
      if (!grant.empty()) b.Put({"SADD", grants_key, grant});
    };
  };
  std::string allow = IpAllowListMatchForm(*ParseIpAllowList({"192.0.2.0/24"}));

  std::vector<Scenario> scenarios = {
      {.name = "explicit mode, granted, verified",
       .data = customer("explicit", "verified", "example.com"), .expect = "pass"},
      {.name = "account mode, verified", .data = customer("account", "verified", ""),
       .expect = "pass"},
      {.name = "any mode on an any plan, no account",
       .data = [&](Both& b) { b.Put({"HSET", user_key, "mode", "any", "plan", "anyplan"}); },
       .expect = "pass"},
      {.name = "any mode on a plain plan: account mode, verified",
       .data = customer("any", "verified", ""), .expect = "pass"},
      {.name = "grant on a parent domain, verified parent",
       .data = customer("explicit", "verified", "*.example.com"), .domain = "sub.example.com",
       .expect = "pass"},
      {.name = "grant of the parent only: not the subdomain",
       .data = customer("explicit", "verified", "example.com"), .domain = "sub.example.com",
       .expect = "full"},
      {.name = "unverified domain", .data = customer("account", "unverified", ""),
       .expect = "full"},
      {.name = "explicit mode, verified, not granted",
       .data = customer("explicit", "verified", "other.example"), .expect = "full"},
      {.name = "unknown user, unknown_user = dunno", .data = [](Both&) {}, .expect = "full"},
      {.name = "unknown user, unknown_user = reject", .unknown_user = "reject",
       .data = [](Both&) {}, .expect = "full"},
      {.name = "unknown user, unknown_user = a plan", .unknown_user = "gold",
       .data = [](Both&) {}, .expect = "full"},
      {.name = "user block",
       .data = [&](Both& b) {
         customer("account", "verified", "")(b);
         b.Put({"HSET", user_block, "reason", "manual", "expires", ""});
       },
       .expect = "full"},
      {.name = "sender block",
       .data = [&](Both& b) {
         customer("account", "verified", "")(b);
         b.Put({"HSET", sender_block(sender), "reason", "spam", "expires",
                std::to_string(kNow + 60000)});
       },
       .expect = "full"},
      {.name = "expired block",
       .data = [&](Both& b) {
         customer("account", "verified", "")(b);
         b.Put({"HSET", user_block, "reason", "rate", "expires", std::to_string(kNow - 1)});
       },
       .expect = "pass"},
      {.name = "IP allow-list, client allowed",
       .data = [&](Both& b) {
         customer("account", "verified", "")(b);
         b.Put({"HSET", user_key, "ip_allow", "192.0.2.0/24", "ip_allow_match", allow});
       },
       .expect = "pass"},
      {.name = "IP allow-list, client refused",
       .data = [&](Both& b) {
         customer("account", "verified", "")(b);
         b.Put({"HSET", user_key, "ip_allow", "192.0.2.0/24", "ip_allow_match", allow});
       },
       .client = "198.51.100.1", .expect = "full"},
      {.name = "user with overrides and a quota, account with a plan and a quota",
       .data = [&](Both& b) {
         customer("account", "verified", "")(b);
         b.Put({"HSET", user_key, "limit:user:messages:3600", "5", "limit:ip:messages:60", "7",
                "quota", "50"});
         b.Put({"HSET", account_key, "plan", "gold", "quota", "1000"});
       },
       .expect = "pass"},
      {.name = "user plan over the account's",
       .data = [&](Both& b) {
         customer("account", "verified", "")(b);
         b.Put({"HSET", user_key, "plan", "anyplan"});
         b.Put({"HSET", account_key, "plan", "gold"});
       },
       .expect = "pass"},
      {.name = "no account", .data = [&](Both& b) { b.Put({"HSET", user_key, "mode", "account"}); },
       .expect = "full"},
      {.name = "null sender: no ACL, the account's plan",
       .data = [&](Both& b) { b.Put({"HSET", user_key, "account", account});
                              b.Put({"HSET", account_key, "plan", "gold"}); },
       .null_sender = true, .expect = "pass"},
      {.name = "no SMTP user: the sender subject", .data = [](Both&) {}, .no_user = true,
       .expect = "pass"},
      {.name = "no SMTP user, sender blocked",
       .data = [&](Both& b) { b.Put({"HSET", sender_block(sender), "reason", "manual"}); },
       .no_user = true, .expect = "full"},
  };
  int compared = 0;
  for (const Scenario& s : scenarios) {
    CAPTURE(s.name);
    both.Del({user_key, grants_key, account_key, domains_key, user_block, sender_block(sender),
              sender_block(sub_sender)});
    s.data(both);
    Config config = AccessConfig(s.unknown_user);
    std::string from = s.null_sender ? "" : s.domain == "example.com" ? sender : sub_sender;
    Strings args = AccessArgs(config, s.no_user ? "" : user, from, s.client);
    Strings one = both.OnOne(args);
    REQUIRE(!one.empty());
    CHECK(one[0] == s.expect);
    Result<Strings> cluster = both.OnCluster(args);
    REQUIRE_MESSAGE(cluster.ok(), cluster.error().message);
    CHECK(*cluster == one);
    CHECK(ParseAccessFacts(*cluster).has_value());
    ++compared;
  }
  CHECK(compared == static_cast<int>(scenarios.size()));

  // A read that fails (a user key of the wrong type) fails the whole answer, as on one Redis.
  // (The cluster reads the user even when a block answers first, so there it fails also
  // where one Redis answers 'full': a failed fill is only a fill not kept.)
  both.Del({user_key, grants_key, account_key, domains_key, sender_block(sender)});
  both.Put({"SET", user_key, "not a hash"});
  Strings args = AccessArgs(AccessConfig("dunno"), user, sender);
  CHECK(both.OnOne(args).front().find("WRONGTYPE") != std::string::npos);
  Result<Strings> failed = both.OnCluster(args);
  REQUIRE(!failed.ok());
  CHECK(failed.error().message.find("WRONGTYPE") != std::string::npos);
  both.Del({user_key});
}

}  // namespace policyd::test
