// Issue 17: decisions on a real Redis Cluster (the binary's 3+3 cluster, fixture.h). For a
// table of scenarios, each a sequence of requests, ClusterPolicyStore answers every request
// with the verdict PolicyStore (decide.lua) gives on one redis-server holding the same data:
// the same action, rule, metric, count, max, window, retry_after and created block, and a
// report where decide.lua has one (the same report again where decide.lua repeats one). The
// user, its account and the client address sit on three different primaries. Before each
// request both explain it: the same verdict and the same facts (decide.lua's explain JSON).
#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/ip_allow_list.h"
#include "fixture.h"
#include "store/cluster_policy_store.h"

namespace policyd::test {
namespace {

using Strings = std::vector<std::string>;

// A client address whose ip: tag is on `primary`.
std::string ClientOn(int primary, int skip = 0) {
  for (int n = 1;; ++n) {
    std::string a = "198.51." + std::to_string(n / 250) + "." + std::to_string(n % 250 + 1);
    if (OwnerOf("ip:" + a) == primary && skip-- == 0) return a;
  }
}

struct Step {
  std::string stage = "END-OF-MESSAGE";
  std::string instance = "";  // the message identity ('' : "m" + the step's index)
  std::string sender = "";    // '' : the scenario's
  std::string client = "";    // '' : the scenario's
  bool authenticated = true;
};

struct Scenario {
  const char* name;
  std::function<void(Config&)> config = [](Config&) {};
  // Writes the scenario's data with put (on both); user, account tags given.
  std::function<void(const std::function<void(Strings)>& put, const std::string& user_key,
                     const std::string& account)>
      data;
  std::vector<Step> steps;
  // What the steps' actions must be on both (a check that the scenario tests what it says).
  std::vector<Action> expect;
};

// The cluster and one redis-server, each deciding with the same config.
struct Twin {
  Cluster& cluster = SharedCluster();
  Router router{cluster.nodes[0]->port()};
  ClusterScriptRunner runner{&router.client()};
  ClusterPolicyStore store{router.loop(), &router.client(), &runner};
  RedisServer single;
  std::shared_ptr<const Config> config;
  std::unique_ptr<StoreHarness> one;

  explicit Twin(const Config& c) : config(std::make_shared<Config>(c)) {
    one = std::make_unique<StoreHarness>(single.port(), c);
  }
  void Put(Strings argv) {
    single.Cmd(argv);
    auto r = router.Call(argv[1], argv);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    REQUIRE(!r->IsError());
  }
  // A hash's fields and values, sorted, on one Redis and on the cluster.
  Strings SortedHash(const std::string& key, bool on_cluster) {
    Strings flat;
    if (on_cluster) {
      auto r = router.Call(key, {"HGETALL", key});
      REQUIRE(r.ok());
      for (const RedisValue& v : r->elements) flat.push_back(v.AsString());
    } else {
      flat = single.Cmd({"HGETALL", key});
    }
    std::vector<std::pair<std::string, std::string>> pairs;
    for (std::size_t i = 0; i + 1 < flat.size(); i += 2) pairs.push_back({flat[i], flat[i + 1]});
    std::sort(pairs.begin(), pairs.end());
    Strings out;
    for (auto& [f, v] : pairs) out.push_back(f + "=" + v);
    return out;
  }
  Result<Verdict> OnCluster(const PolicyRequest& req, uint64_t now,
                            DecideMode mode = DecideMode::kDecide) {
    std::optional<Result<Verdict>> out;
    DecideOptions options;
    options.now_ms = now;
    options.mode = mode;
    store.Decide(config, req, [&out](Result<Verdict> v) { out = std::move(v); }, options);
    router.RunUntil([&] {
      return out.has_value() &&
             (store.decisions() == nullptr || store.decisions()->refunds_in_flight() == 0);
    });
    REQUIRE(out.has_value());
    return std::move(*out);
  }
};

std::string Describe(const Verdict& v) {
  return std::string(ActionName(v.action)) + " | " + v.rule + " | " + v.metric + " " +
         std::to_string(v.count) + "/" + std::to_string(v.max) + " per " +
         std::to_string(v.window_ms) + "ms retry " + std::to_string(v.retry_after_s) +
         " | report " + (v.report_id.empty() ? "no" : "yes") + " | created '" +
         v.created_block + "'";
}

Config DecisionConfig() {
  Config c = TestConfig();
  c.plans["default"].limits = {{SubjectKind::kUser, Metric::kMessages, 3, 3600 * 1000},
                               {SubjectKind::kAccount, Metric::kMessages, 100, 3600 * 1000},
                               {SubjectKind::kIp, Metric::kMessages, 100, 3600 * 1000}};
  c.plans["anyplan"] = Plan{"anyplan", true, {}};
  c.plans["gold"] = Plan{"gold", false, {{SubjectKind::kUser, Metric::kMessages, 2, 3600 * 1000}}};
  return c;
}

// Scenario steps: n END-OF-MESSAGEs with identities m0..m(n-1).
std::vector<Step> Eoms(int n) { return std::vector<Step>(n); }

}  // namespace

TEST_CASE("cluster policy store: the cluster answers what decide.lua answers on one Redis") {
  std::string allow = IpAllowListMatchForm(*ParseIpAllowList({"198.51.0.0/16"}));
  auto customer = [](const std::string& mode, bool grant) {
    return [=](const std::function<void(Strings)>& put, const std::string& user_key,
               const std::string& account) {
      put({"HSET", user_key, "account", account, "mode", mode});
      put({"HSET", "pd:domains:{account:" + account + "}", "example.com", "verified"});
      if (grant) put({"SADD", "pd:grants:" + user_key.substr(8), "example.com"});
    };
  };
  auto none = [](const std::function<void(Strings)>&, const std::string&, const std::string&) {};
  const Action D = Action::kDunno, R = Action::kThrottled, A = Action::kAclReject,
               B = Action::kBlocked, I = Action::kIpRefused;
  Step repeat0;
  repeat0.instance = "m0";
  Step repeat3;
  repeat3.instance = "m3";
  Step rcpt;
  rcpt.stage = "RCPT";
  auto with = [](std::vector<Step> a, std::vector<Step> b) {
    a.insert(a.end(), b.begin(), b.end());
    return a;
  };

  std::vector<Scenario> scenarios = {
      {.name = "explicit mode: the user's limit, repeats of counted and refused requests",
       .data = customer("explicit", true),
       .steps = with(Eoms(4), {repeat0, repeat3}),
       .expect = {D, D, D, R, D, R}},
      {.name = "account mode: the account's limit refuses",
       .config = [](Config& c) { c.plans["default"].limits[0].max = 100;
                                 c.plans["default"].limits[1].max = 2; },
       .data = customer("account", false), .steps = Eoms(3), .expect = {D, D, R}},
      {.name = "account mode: the IP's limit refuses",
       .config = [](Config& c) { c.plans["default"].limits[0].max = 100;
                                 c.plans["default"].limits[2].max = 1; },
       .data = customer("account", false), .steps = Eoms(2), .expect = {D, R}},
      {.name = "any mode on an any plan (no limits): counted",
       .data = [](const std::function<void(Strings)>& put, const std::string& user_key,
                  const std::string&) { put({"HSET", user_key, "mode", "any", "plan",
                                             "anyplan"}); },
       .steps = Eoms(1), .expect = {D}},
      {.name = "explicit mode, not granted: an ACL report once per dedup",
       .data = customer("explicit", false), .steps = Eoms(3), .expect = {A, A, A}},
      {.name = "unknown user, unknown_user = dunno", .data = none, .steps = Eoms(1),
       .expect = {D}},
      {.name = "unknown user, unknown_user = reject",
       .config = [](Config& c) { c.policy.unknown_user = "reject"; }, .data = none,
       .steps = Eoms(2), .expect = {A, A}},
      {.name = "unknown user, unknown_user = a plan: ACL (no verified domain)",
       .config = [](Config& c) { c.policy.unknown_user = "gold"; }, .data = none,
       .steps = Eoms(1), .expect = {A}},
      {.name = "IP allow-list: inside, then outside (a report once per address)",
       .data = [&](const std::function<void(Strings)>& put, const std::string& user_key,
                   const std::string& account) {
         customer("account", false)(put, user_key, account);
         put({"HSET", user_key, "ip_allow", "198.51.0.0/16", "ip_allow_match", allow});
       },
       .steps = {Step{}, Step{.client = "203.0.113.5"}, Step{.client = "203.0.113.5"}},
       .expect = {D, I, I}},
      {.name = "a block on the user",
       .data = [](const std::function<void(Strings)>& put, const std::string& user_key,
                  const std::string& account) {
         put({"HSET", user_key, "account", account, "mode", "account"});
         put({"HSET", "pd:block:" + user_key.substr(8), "reason", "manual", "report", "r1"});
       },
       .steps = Eoms(1), .expect = {B}},
      {.name = "escalation: throttles become one block",
       .config = [](Config& c) { c.abuse.throttle_events = 2; },
       .data = customer("account", false), .steps = Eoms(7),
       .expect = {D, D, D, R, R, R, B}},
      {.name = "RCPT pre-check (count_at = eom): room, then the user's limit",
       .data = customer("account", false),
       .steps = with({rcpt}, with(Eoms(3), {rcpt})), .expect = {D, D, D, D, R}},
      {.name = "count_at = rcpt: RCPT counts, END-OF-MESSAGE has no rate check",
       .config = [](Config& c) { c.policy.count_at = CountAt::kRcpt; },
       .data = customer("account", false),
       .steps = {rcpt, rcpt, rcpt, rcpt, Step{}}, .expect = {D, D, D, R, D}},
      {.name = "an unauthenticated sender is its own subject (user and sender limits)",
       .config = [](Config& c) {
         c.policy.unauthenticated = UnauthenticatedPolicy::kSender;
         c.plans["default"].limits.push_back(
             {SubjectKind::kSender, Metric::kMessages, 2, 3600 * 1000});
       },
       .data = none,
       .steps = {Step{.authenticated = false}, Step{.authenticated = false},
                 Step{.authenticated = false}},
       .expect = {D, D, R}},
  };

  int compared = 0, sent_compared = 0, explained = 0;
  for (std::size_t s = 0; s < scenarios.size(); ++s) {
    const Scenario& sc = scenarios[s];
    CAPTURE(sc.name);
    Config config = DecisionConfig();
    sc.config(config);
    Twin twin(config);
    std::string base = "s" + std::to_string(s) + "x";
    std::string user_tag = TagOn(0, "user:" + base);
    std::string account_tag = TagOn(1, "account:" + base);
    std::string user = user_tag.substr(5), account = account_tag.substr(8);
    std::string client = ClientOn(2, static_cast<int>(s));
    REQUIRE(OwnerOf("ip:" + client) == 2);
    sc.data([&twin](Strings argv) { twin.Put(std::move(argv)); }, "pd:user:{" + user_tag + "}",
            account);
    std::string last_report[2];
    REQUIRE(sc.steps.size() == sc.expect.size());
    for (std::size_t i = 0; i < sc.steps.size(); ++i) {
      const Step& st = sc.steps[i];
      CAPTURE(i);
      std::string instance = st.instance.empty() ? "m" + std::to_string(i) : st.instance;
      std::vector<std::pair<std::string, std::string>> attrs = {
          {"protocol_state", st.stage},
          {"sender", st.sender.empty() ? "someone" + std::to_string(s) + "@example.com"
                                       : st.sender},
          {"recipient", "r" + std::to_string(i) + "@dest.example"},
          {"recipient_count", st.stage == "RCPT" ? "0" : "1"},
          {"client_address", st.client.empty() ? client : st.client},
          {"client_port", "40000"},
          {"instance", instance + "-" + base},
          {"size", "1000"}};
      if (st.authenticated) attrs.push_back({"sasl_username", user});
      PolicyRequest req = MakeRequest(attrs);
      uint64_t now = static_cast<uint64_t>(kNow) + i * 1000;
      // explain first: what the request is about to get, and why, alike on both (and,
      // writing nothing, it leaves the decision below what it would have been).
      Result<Verdict> one_x = twin.one->TryDecide(req, now, /*explain=*/true);
      Result<Verdict> clu_x = twin.OnCluster(req, now, DecideMode::kExplain);
      REQUIRE_MESSAGE(one_x.ok(), one_x.error().message);
      REQUIRE_MESSAGE(clu_x.ok(), clu_x.error().message);
      CHECK(Describe(*clu_x) == Describe(*one_x));
      auto one_facts = nlohmann::json::parse(one_x->facts, nullptr, false);
      auto clu_facts = nlohmann::json::parse(clu_x->facts, nullptr, false);
      CHECK_MESSAGE(one_facts.is_object(), one_x->facts);
      CHECK_MESSAGE(clu_facts == one_facts, "cluster: " << clu_x->facts << "\none: "
                                                        << one_x->facts);
      ++explained;
      Result<Verdict> one = twin.one->TryDecide(req, now);
      Result<Verdict> clu = twin.OnCluster(req, now);
      REQUIRE_MESSAGE(one.ok(), one.error().message);
      REQUIRE_MESSAGE(clu.ok(), clu.error().message);
      std::printf("  [%s] #%zu one: %s\n  [%s] #%zu cluster: %s\n", sc.name, i,
                  Describe(*one).c_str(), sc.name, i, Describe(*clu).c_str());
      CHECK(Describe(*clu) == Describe(*one));
      CHECK(one->action == sc.expect[i]);
      CHECK(clu->domain == one->domain);
      // The same report again exactly where decide.lua repeats one (dedup).
      CHECK((one->report_id == last_report[0]) == (clu->report_id == last_report[1]));
      last_report[0] = one->report_id;
      last_report[1] = clu->report_id;
      ++compared;
    }
    // The sent counters (the complaint and bounce rates' divisors) of every subject decide.lua
    // counted, counted alike on the cluster (sent after the verdicts: waited for).
    Strings sent_keys = twin.single.Cmd({"KEYS", "pd:sent:*"});
    for (const std::string& k : sent_keys) {
      CAPTURE(k);
      Strings want = twin.SortedHash(k, false);
      twin.router.RunUntil([&] { return twin.SortedHash(k, true) == want; }, 3000);
      CHECK(twin.SortedHash(k, true) == want);
      ++sent_compared;
    }
  }
  std::printf("cluster policy store: %d sent counters compared\n", sent_compared);
  CHECK(sent_compared > 10);
  std::printf("cluster policy store: %d requests compared over %zu scenarios\n", compared,
              scenarios.size());
  CHECK(compared == 43);
  CHECK(explained == 43);
}

}  // namespace policyd::test
