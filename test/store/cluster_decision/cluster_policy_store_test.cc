// Issue 17: decisions on a real Redis Cluster (the binary's 3+3 cluster, fixture.h). For a
// table of scenarios, each a sequence of requests, ClusterPolicyStore answers every request
// with the verdict PolicyStore (decide.lua) gives on one redis-server holding the same data:
// the same action, rule, metric, count, max, window, retry_after and created block, and a
// report where decide.lua has one (the same report again where decide.lua repeats one). The
// user, its account and the client address sit on three different primaries. Before each
// request both explain it: the same verdict and the same facts (decide.lua's explain JSON).
#include <doctest/doctest.h>

#include <algorithm>
#include <barrier>
#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/cluster_quota.h"
#include "core/ip_allow_list.h"
#include "core/report_slot.h"
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
  std::string recipient = "";  // '' : "r" + the step's index + "@dest.example"
  // END-OF-MESSAGE: the recipients policyd collected at RCPT (DecideOptions::recipients).
  std::vector<std::string> collected = {};
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
  // Explain compared too: not for a quota with count_at = rcpt, where explain on a cluster
  // does not read whether the message's first RCPT already paid (it explains every RCPT as
  // costing the message; decide.lua's explain reads its pd:msg mark).
  bool explain = true;
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
  Result<Verdict> OnCluster(const PolicyRequest& req, uint64_t now, const Strings& collected,
                            DecideMode mode = DecideMode::kDecide) {
    std::optional<Result<Verdict>> out;
    DecideOptions options;
    options.now_ms = now;
    options.recipients = collected;
    options.mode = mode;
    store.Decide(config, req, [&out](Result<Verdict> v) { out = std::move(v); }, options);
    router.RunUntil([&] {
      return out.has_value() &&
             (store.decisions() == nullptr || store.decisions()->refunds_in_flight() == 0) &&
             store.quotas().refunds_in_flight() == 0;
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
         v.created_block + "' | quota warnings '" + v.quota_warnings + "'";
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

// The month of the scenarios' clock (kNow), as the quota keys name it.
std::string Period() { return QuotaPeriod(kNow, 0); }

// What a subject's quota warnings left beside its counter, on one Redis or on the cluster:
// its quota evidence entries and its quota.warning events (type, subject, data), in order.
Strings QuotaTrail(Twin& twin, const std::string& tag, bool on_cluster) {
  Strings out;
  std::string evidence = "pd:evidence:{" + tag + "}";
  Strings entries;
  if (on_cluster) {
    auto r = twin.router.Call(evidence, {"LRANGE", evidence, "0", "-1"});
    REQUIRE(r.ok());
    for (const RedisValue& v : r->elements) entries.push_back(v.AsString());
  } else {
    entries = twin.single.Cmd({"LRANGE", evidence, "0", "-1"});
  }
  for (const std::string& e : entries) {
    if (e.find("\"kind\":\"quota\"") != std::string::npos) out.push_back(e);
  }
  // On one Redis the stream pd:events; on a cluster the outbox of the subject's slot.
  std::string events = on_cluster ? "pd:events:{" + std::string(SubjectSlotTag(tag)) + "}"
                                  : "pd:events";
  std::vector<Strings> fields;
  if (on_cluster) {
    auto r = twin.router.Call(events, {"XRANGE", events, "-", "+"});
    REQUIRE(r.ok());
    for (const RedisValue& entry : r->elements) {
      Strings f;
      for (const RedisValue& v : entry.elements[1].elements) f.push_back(v.AsString());
      fields.push_back(f);
    }
  } else {
    // Flattened: each entry its id, then its 4 fields and values (type, subject, time, data).
    Strings flat = twin.single.Cmd({"XRANGE", events, "-", "+"});
    REQUIRE(flat.size() % 9 == 0);
    for (std::size_t i = 0; i < flat.size(); i += 9) {
      fields.push_back(Strings(flat.begin() + i + 1, flat.begin() + i + 9));
    }
  }
  for (const Strings& f : fields) {
    std::map<std::string, std::string> m;
    for (std::size_t i = 0; i + 1 < f.size(); i += 2) m[f[i]] = f[i + 1];
    if (m["type"] == "quota.warning" && m["subject"] == tag) {
      out.push_back(m["type"] + " " + m["subject"] + " " + m["data"]);
    }
  }
  return out;
}

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
               B = Action::kBlocked, I = Action::kIpRefused, Q = Action::kQuotaExceeded;
  Step repeat0;
  repeat0.instance = "m0";
  Step repeat2;
  repeat2.instance = "m2";
  Step repeat3;
  repeat3.instance = "m3";
  Step repeat5;
  repeat5.instance = "m5";
  // An account-mode customer with monthly quotas: the user's field 'quota', the account's
  // record's ('' none).
  auto quota_customer = [customer](const std::string& user_quota,
                                   const std::string& account_quota) {
    return [=](const std::function<void(Strings)>& put, const std::string& user_key,
               const std::string& account) {
      customer("account", false)(put, user_key, account);
      if (!user_quota.empty()) put({"HSET", user_key, "quota", user_quota});
      if (!account_quota.empty()) {
        put({"HSET", "pd:account:{account:" + account + "}", "quota", account_quota});
      }
    };
  };
  auto roomy_user = [](Config& c) { c.plans["default"].limits[0].max = 100; };
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
      {.name = "count_at = rcpt: a message's RCPTs cost it once (messages, bytes), recipients "
               "each; a refused RCPT counts nothing, so the next costs the message again",
       .config = [](Config& c) {
         c.policy.count_at = CountAt::kRcpt;
         c.plans["default"].limits.push_back(
             {SubjectKind::kUser, Metric::kBytes, 3500, 3600 * 1000});
         c.plans["default"].limits.push_back(
             {SubjectKind::kUser, Metric::kRecipients, 8, 3600 * 1000});
       },
       .data = customer("account", false),
       .steps = {Step{.stage = "RCPT", .instance = "t0"}, Step{.stage = "RCPT", .instance = "t0"},
                 Step{.stage = "RCPT", .instance = "t0"}, Step{.stage = "RCPT", .instance = "t0"},
                 Step{.stage = "RCPT", .instance = "t0", .recipient = "r3@dest.example"},
                 Step{.stage = "RCPT"}, Step{.stage = "RCPT"}, Step{.stage = "RCPT"},
                 Step{.stage = "RCPT", .instance = "m7"}, Step{.instance = "t0"},
                 Step{.stage = "RCPT", .instance = "t10"}},
       .expect = {D, D, D, D, D, D, D, R, R, D, R}},
      {.name = "list-bombing: the third message to one recipient blocks the user (block, "
               "report); a repeat counts nothing again",
       .config = [](Config& c) {
         c.plans["default"].limits[0].max = 100;
         c.abuse.list_bombing_messages = 3;
         c.abuse.score_threshold = 5;
       },
       .data = customer("account", false),
       .steps = {Step{.recipient = "victim@dest.example"},
                 Step{.instance = "m0", .recipient = "victim@dest.example"},
                 Step{.recipient = "other@dest.example",
                      .collected = {"victim@dest.example", "other@dest.example"}},
                 Step{.recipient = "victim@dest.example"}, Step{}},
       .expect = {D, D, D, D, B}},
      {.name = "list-bombing with count_at = rcpt: each RCPT let through counts its recipient",
       .config = [](Config& c) {
         c.policy.count_at = CountAt::kRcpt;
         c.plans["default"].limits[0].max = 100;
         c.abuse.list_bombing_messages = 2;
         c.abuse.score_threshold = 5;
       },
       .data = customer("account", false),
       .steps = {Step{.stage = "RCPT", .recipient = "victim@dest.example"},
                 Step{.stage = "RCPT", .instance = "m0", .recipient = "other@dest.example"},
                 Step{.stage = "RCPT", .instance = "m0", .recipient = "victim@dest.example"},
                 Step{.stage = "RCPT", .recipient = "victim@dest.example"},
                 Step{.stage = "RCPT"}},
       .expect = {D, D, D, D, B}},
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
      // Issue 19 on a cluster: monthly quotas, the user's in its slot, the account's in its.
      {.name = "monthly quota: the user's, its 80/90/100% warnings, refused and counted repeats",
       .config = roomy_user, .data = quota_customer("5", ""),
       .steps = with(Eoms(6), {repeat5, repeat0}), .expect = {D, D, D, D, D, Q, Q, D},
      },
      {.name = "monthly quota: the account's refuses (the user's count and the rates go back)",
       .config = roomy_user, .data = quota_customer("10", "2"), .steps = Eoms(3),
       .expect = {D, D, Q}},
      {.name = "monthly quota: a rate refusal outranks a used-up quota",
       .data = quota_customer("3", ""), .steps = Eoms(4), .expect = {D, D, D, R}},
      {.name = "monthly quota: unlocked, it admits past 100%",
       .data = [&](const std::function<void(Strings)>& put, const std::string& user_key,
                   const std::string& account) {
         quota_customer("1", "")(put, user_key, account);
         put({"HSET", "pd:quota:" + user_key.substr(8) + ":" + Period(), "used", "1",
              "unlocked", "1"});
       },
       .steps = Eoms(2), .expect = {D, D}},
      {.name = "monthly quota: the RCPT pre-check refuses a used-up quota",
       .data = quota_customer("1", ""), .steps = {rcpt, Step{}, rcpt}, .expect = {D, D, Q},
      },
      {.name = "monthly quota, count_at = rcpt: a message costs it once, at its first RCPT",
       .config = [](Config& c) { c.policy.count_at = CountAt::kRcpt; },
       .data = quota_customer("1", ""),
       .steps = {Step{.stage = "RCPT", .instance = "m0"}, Step{.stage = "RCPT", .instance = "m0"},
                 Step{.stage = "RCPT", .instance = "m2"}},
       .expect = {D, D, Q}, .explain = false},
      {.name = "monthly quota without rate limits (an any plan): repeats only the quota knows",
       .data = [](const std::function<void(Strings)>& put, const std::string& user_key,
                  const std::string&) {
         put({"HSET", user_key, "mode", "any", "plan", "anyplan", "quota", "2"});
       },
       .steps = with(Eoms(3), {repeat0, repeat2}), .expect = {D, D, Q, D, Q}},
  };

  int compared = 0, sent_compared = 0, totals_compared = 0, explained = 0;
  int quotas_compared = 0, trails_compared = 0;
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
          {"recipient",
           st.recipient.empty() ? "r" + std::to_string(i) + "@dest.example" : st.recipient},
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
      std::vector<std::string_view> collected(st.collected.begin(), st.collected.end());
      if (sc.explain) {
        Result<Verdict> one_x = twin.one->TryDecide(req, now, /*explain=*/true, collected);
        Result<Verdict> clu_x = twin.OnCluster(req, now, st.collected, DecideMode::kExplain);
        REQUIRE_MESSAGE(one_x.ok(), one_x.error().message);
        REQUIRE_MESSAGE(clu_x.ok(), clu_x.error().message);
        CHECK(Describe(*clu_x) == Describe(*one_x));
        auto one_facts = nlohmann::json::parse(one_x->facts, nullptr, false);
        auto clu_facts = nlohmann::json::parse(clu_x->facts, nullptr, false);
        CHECK_MESSAGE(one_facts.is_object(), one_x->facts);
        CHECK_MESSAGE(clu_facts == one_facts, "cluster: " << clu_x->facts << "\none: "
                                                          << one_x->facts);
        ++explained;
      }
      Result<Verdict> one = twin.one->TryDecide(req, now, false, collected);
      Result<Verdict> clu = twin.OnCluster(req, now, st.collected);
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
    // Every subject's window totals, as decide.lua left them (after the refunds: the
    // cluster's counts are what was admitted; with count_at = rcpt a message once).
    for (const std::string& k : twin.single.Cmd({"KEYS", "pd:rate:*"})) {
      CAPTURE(k);
      auto totals = [&twin, &k](bool on_cluster) {
        Strings out;
        for (const std::string& f : twin.SortedHash(k, on_cluster)) {
          if (f.find(":total=") != std::string::npos) out.push_back(f);
        }
        return out;
      };
      CHECK(totals(true) == totals(false));
      ++totals_compared;
    }
    // The monthly quota counters (used, unlocked, the warnings' times) alike, and what the
    // warnings left: evidence and quota.warning events (on a cluster in the slot's outbox).
    for (const std::string& k : twin.single.Cmd({"KEYS", "pd:quota:*"})) {
      CAPTURE(k);
      CHECK(twin.SortedHash(k, true) == twin.SortedHash(k, false));
      ++quotas_compared;
    }
    for (const std::string& tag : {user_tag, account_tag}) {
      CAPTURE(tag);
      Strings want = QuotaTrail(twin, tag, false);
      CHECK(QuotaTrail(twin, tag, true) == want);
      trails_compared += static_cast<int>(want.size());
    }
  }
  std::printf("cluster policy store: %d quota counters, %d quota evidence/events compared\n",
              quotas_compared, trails_compared);
  CHECK(quotas_compared == 8);
  CHECK(trails_compared > 10);
  std::printf("cluster policy store: %d sent counters compared\n", sent_compared);
  std::printf("cluster policy store: %d window totals compared\n", totals_compared);
  CHECK(totals_compared > 25);
  CHECK(sent_compared > 10);
  std::printf("cluster policy store: %d requests compared over %zu scenarios\n", compared,
              scenarios.size());
  CHECK(compared == 92);
  CHECK(explained == 89);  // not the quota scenario with count_at = rcpt (above)
}

TEST_CASE("cluster policy store: racing requests never pass a monthly quota") {
  // Every request is sent before any is answered: their calls interleave on the primaries.
  Config config = DecisionConfig();
  config.plans["default"].limits = {};
  Twin twin(config);
  std::string account = TagOn(1, "account:quotarace").substr(8);
  twin.Put({"HSET", "pd:domains:{account:" + account + "}", "example.com", "verified"});
  twin.Put({"HSET", "pd:account:{account:" + account + "}", "quota", "7"});
  // solo: a quota of 5 alone (nothing else can refuse: exactly 5 admitted); a and b: 5 each
  // in one account of 7, each user's quota on another primary than the account's.
  std::string solo = TagOn(0, "user:quotasolo"), a = TagOn(0, "user:quotaa"),
              b = TagOn(2, "user:quotab");
  twin.Put({"HSET", "pd:user:{" + solo + "}", "mode", "any", "plan", "anyplan", "quota", "5"});
  for (const std::string& u : {a, b}) {
    twin.Put({"HSET", "pd:user:{" + u + "}", "account", account, "mode", "account", "quota",
              "5"});
  }
  auto used = [&twin](const std::string& tag) -> int64_t {
    std::string k = "pd:quota:{" + tag + "}:" + Period();
    auto r = twin.router.Call(k, {"HGET", k, "used"});
    REQUIRE(r.ok());
    return r->AsInt();  // 0 when there is no counter
  };
  auto race = [&twin](const std::vector<std::string>& users, int each, uint64_t now) {
    std::map<std::string, int> admitted;
    int answered = 0, total = static_cast<int>(users.size()) * each;
    for (int i = 0; i < each; ++i) {
      for (const std::string& tag : users) {
        PolicyRequest req = MakeRequest({{"protocol_state", "END-OF-MESSAGE"},
                                         {"sender", "race@example.com"},
                                         {"recipient", "r@dest.example"},
                                         {"recipient_count", "1"},
                                         {"client_address", "198.51.100.7"},
                                         {"instance", tag + "-" + std::to_string(i)},
                                         {"sasl_username", tag.substr(5)}});
        DecideOptions options;
        options.now_ms = now;
        twin.store.Decide(
            twin.config, req,
            [&admitted, &answered, tag](Result<Verdict> v) {
              ++answered;
              CHECK_MESSAGE(v.ok(), (v.ok() ? "" : v.error().message));
              if (!v.ok()) return;
              if (v->action == Action::kDunno) ++admitted[tag];
              if (v->action != Action::kDunno) CHECK(v->action == Action::kQuotaExceeded);
            },
            options);
      }
    }
    twin.router.RunUntil([&] {
      return answered == total && twin.store.decisions()->refunds_in_flight() == 0 &&
             twin.store.quotas().refunds_in_flight() == 0;
    });
    REQUIRE(answered == total);
    return admitted;
  };
  std::map<std::string, int> solo_run = race({solo}, 12, kNow);
  CHECK(solo_run[solo] == 5);
  CHECK(used(solo) == 5);
  std::map<std::string, int> ab = race({a, b}, 8, kNow + 1000);
  std::printf("cluster quota race: solo %d/5 admitted; a %d, b %d of 5 each, %d of the "
              "account's 7 (refunds %llu)\n",
              solo_run[solo], ab[a], ab[b], ab[a] + ab[b],
              static_cast<unsigned long long>(twin.store.quotas().refunds_sent()));
  // Never past a quota, and every counter holds exactly what was admitted (refunds landed).
  // The account's quota is called only after the user's counted, and its counts are never
  // taken back: it fills exactly (16 requests, 10 within their users' quotas).
  CHECK(ab[a] <= 5);
  CHECK(ab[b] <= 5);
  CHECK(ab[a] + ab[b] == 7);
  CHECK(used(a) == ab[a]);
  CHECK(used(b) == ab[b]);
  CHECK(used("account:" + account) == ab[a] + ab[b]);
}

// List-bombing under a race: 3 instances (a ClusterClient and a ClusterPolicyStore each, on
// threads of their own) decide 8 messages each at once, all from one user to one recipient,
// with list_bombing_messages = 6. list_bombing.lua runs in the user's slot, atomically, so
// exactly one verdict created the block (the others were counted before it or were answered
// with it), and exactly one block.created event is in the user's slot's outbox.
TEST_CASE("cluster policy store: list-bombing under a race makes exactly one block") {
  constexpr int kInstances = 3, kEach = 8;
  Cluster& cluster = SharedCluster();
  Config c = DecisionConfig();
  c.plans["default"].limits[0].max = 1000;
  c.abuse.list_bombing_messages = 6;
  c.abuse.score_threshold = 5;
  auto config = std::make_shared<const Config>(c);
  std::string user_tag = TagOn(0, "user:lbrace"), account_tag = TagOn(1, "account:lbrace");
  std::string user = user_tag.substr(5), account = account_tag.substr(8);
  std::string client = ClientOn(2, 40);
  std::vector<std::unique_ptr<Router>> routers;
  std::vector<std::unique_ptr<ClusterScriptRunner>> runners;
  std::vector<std::unique_ptr<ClusterPolicyStore>> stores;
  for (int i = 0; i < kInstances; ++i) {
    routers.push_back(std::make_unique<Router>(cluster.nodes[i]->port()));
    runners.push_back(std::make_unique<ClusterScriptRunner>(&routers[i]->client()));
    stores.push_back(std::make_unique<ClusterPolicyStore>(routers[i]->loop(),
                                                          &routers[i]->client(),
                                                          runners[i].get()));
  }
  std::string user_key = "pd:user:{" + user_tag + "}";
  REQUIRE(routers[0]->Call(user_key, {"HSET", user_key, "account", account, "mode", "account"})
              .ok());
  std::string domains = "pd:domains:{" + account_tag + "}";
  REQUIRE(routers[0]->Call(domains, {"HSET", domains, "example.com", "verified"}).ok());
  std::vector<std::vector<std::optional<Result<Verdict>>>> out(
      kInstances, std::vector<std::optional<Result<Verdict>>>(kEach));
  std::barrier start(kInstances);
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      start.arrive_and_wait();
      for (int k = 0; k < kEach; ++k) {
        PolicyRequest req = MakeRequest({{"protocol_state", "END-OF-MESSAGE"},
                                         {"sender", "someone@example.com"},
                                         {"recipient", "victim@dest.example"},
                                         {"recipient_count", "1"},
                                         {"client_address", client},
                                         {"client_port", "40000"},
                                         {"instance", "lb" + std::to_string(i * kEach + k)},
                                         {"size", "1000"},
                                         {"sasl_username", user}});
        DecideOptions options;
        options.now_ms = static_cast<uint64_t>(kNow);
        stores[i]->Decide(config, req,
                          [&out, i, k](Result<Verdict> v) { out[i][k] = std::move(v); },
                          options);
      }
      routers[i]->RunUntil([&] {
        for (const auto& v : out[i]) {
          if (!v) return false;
        }
        return true;
      }, 20000);
    });
  }
  for (std::thread& t : threads) t.join();
  int created = 0, counted = 0, blocked = 0;
  for (const auto& each : out) {
    for (const auto& v : each) {
      REQUIRE(v.has_value());
      REQUIRE_MESSAGE(v->ok(), v->error().message);
      if (!(*v)->created_block.empty()) ++created;
      if ((*v)->action == Action::kDunno) ++counted;
      if ((*v)->action == Action::kBlocked) ++blocked;
    }
  }
  std::printf("list-bombing race: %d counted, %d answered blocked, %d created the block\n",
              counted, blocked, created);
  CHECK(created == 1);
  CHECK(counted >= 6);
  CHECK(counted + blocked == kInstances * kEach);
  std::string outbox = "pd:events:{" + std::string(SubjectSlotTag(user_tag)) + "}";
  auto events = routers[0]->Call(outbox, {"XRANGE", outbox, "-", "+"});
  REQUIRE(events.ok());
  int block_events = 0;
  for (const RedisValue& e : events->elements) {
    const auto& f = e.elements[1].elements;
    std::map<std::string, std::string> fields;
    for (std::size_t j = 0; j + 1 < f.size(); j += 2) fields[f[j].AsString()] = f[j + 1].AsString();
    if (fields["type"] == "block.created" && fields["subject"] == user_tag) ++block_events;
  }
  CHECK(block_events == 1);
  std::string block = "pd:block:{" + user_tag + "}";
  auto reason = routers[0]->Call(block, {"HGET", block, "reason"});
  REQUIRE(reason.ok());
  CHECK(reason->AsString() == "abuse");
  stores.clear();
  runners.clear();
  routers.clear();
}

}  // namespace policyd::test
