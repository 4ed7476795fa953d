// Issue 17, the race: 4 instances, each a ClusterClient on its own loop and thread, 64
// requests in flight each, users whose user, account and IP subjects sit on three different
// primaries of the binary's cluster (fixture.h), limits on all three (each binding in some
// round): no limit ever admits more than its max and Redis holds exactly what was admitted,
// with and without ClusterDecision's retry_refused. With retry_refused (what policyd runs),
// every round also ends saturated with exactly N admitted for its binding limit, 20 of 20
// rounds. Without it that is not promised: requests arriving together can refuse each other
// in every wave when the scheduling repeats itself (seen with everything on one core: rounds
// that admitted nothing in 12 waves), so there it is printed, not checked. Prints the
// admitted counts and the false refusals (refused although, after all refunds, every subject
// of the request still had room). Also a Redis-CPU-per-decision driver (1 Redis vs 3
// primaries), skipped unless asked for.
#include <doctest/doctest.h>

#include <barrier>
#include <chrono>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "fixture.h"

namespace policyd::test {

namespace {

// One round's subjects and limits. Request g (0..255 in a wave) comes from users[g % 4] at
// ips[g % 2], all users in one account.
struct Round {
  std::vector<std::string> users, ips;
  std::string account;
  int64_t nu = 0, na = 0, ni = 0;
  const char* binding = "";
};

Round MakeRound(int r, const std::string& race) {
  Round round;
  std::string p = race + std::to_string(r);
  for (int j = 0; j < 4; ++j) round.users.push_back(TagOn(0, "user:" + p + "u", j));
  round.account = TagOn(1, "account:" + p + "a");
  for (int j = 0; j < 2; ++j) {
    round.ips.push_back(TagOn(2, "ip:" + race + "10." + std::to_string(r) + ".0.", j));
  }
  switch (r % 4) {  // so that each limit binds in some round
    case 0: round.nu = 5, round.na = 40, round.ni = 40, round.binding = "user"; break;
    case 1: round.nu = 20, round.na = 25, round.ni = 40, round.binding = "account"; break;
    case 2: round.nu = 20, round.na = 60, round.ni = 12, round.binding = "ip"; break;
    default: round.nu = 7, round.na = 26, round.ni = 14, round.binding = "account (all close)";
  }
  return round;
}

struct Answer {
  bool admitted = false;
  std::string refused_by;  // the refusing subject's tag
  std::string detail;      // its outcome, for a failure message
};

constexpr int kInstances = 4;
constexpr int kInFlight = 64;
constexpr int kMaxWaves = 12;

}  // namespace

void Race(bool retry_refused) {
  Cluster& cluster = SharedCluster();
  // Subjects and identities of their own: the other race's records would answer as repeats.
  const std::string race = retry_refused ? "b" : "a";
  Instances instances(cluster, kInstances, retry_refused, "user:warm" + race);
  auto& routers = instances.routers;
  auto& decisions = instances.decisions;
  Round round;
  int round_no = 0, wave_no = 0;
  bool stop = false;
  std::vector<std::vector<Answer>> answers(kInstances);
  std::barrier sync(kInstances + 1);
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      for (;;) {
        sync.arrive_and_wait();  // a wave starts (or the test ends)
        if (stop) return;
        answers[i].assign(kInFlight, Answer{});
        int done = 0;
        for (int k = 0; k < kInFlight; ++k) {
          int g = i * kInFlight + k;
          auto limits = Limits(round.users[g % 4], round.nu, round.account, round.na,
                               round.ips[g % 2], round.ni);
          std::string id = race + std::to_string(round_no) + "w" + std::to_string(wave_no) +
                           "g" + std::to_string(g);
          SubjectCallContext ctx;
          ctx.message_id = id;
          decisions[i]->Decide(ctx, limits, SubjectCosts{1, 1, 1000},
                               [&answers, &done, i, k](SubjectDecision d) {
                                 Answer& a = answers[i][k];
                                 a.admitted = d.verdict.kind == Kind::kAdmit;
                                 if (d.verdict.kind == Kind::kRefuse) {
                                   a.refused_by = d.calls[d.verdict.deciding].tag;
                                 }
                                 if (d.verdict.kind != Kind::kAdmit) {
                                   const SubjectOutcome& o = d.outcomes[d.verdict.deciding];
                                   a.detail = d.calls[d.verdict.deciding].tag + " " + o.metric +
                                              " " + std::to_string(o.count) + "/" +
                                              std::to_string(o.max) + " " + o.error +
                                              (o.repeat ? " repeat" : "");
                                 }
                                 ++done;
                               });
        }
        routers[i]->RunUntil(
            [&] { return done == kInFlight && decisions[i]->refunds_in_flight() == 0; }, 20000);
        sync.arrive_and_wait();  // the wave is over, its refunds landed
      }
    });
  }

  const int rounds = 20;
  int exact_rounds = 0, live_rounds = 0;
  uint64_t total_false = 0, total_refusals = 0;
  for (round_no = 0; round_no < rounds; ++round_no) {
    round = MakeRound(round_no, race);
    std::map<std::string, int64_t> admitted, max;
    for (auto& u : round.users) max[u] = round.nu;
    max[round.account] = round.na;
    for (auto& ip : round.ips) max[ip] = round.ni;
    int waves = 0;
    uint64_t refusals = 0, false_refusals = 0, errors = 0;
    std::string first_error;
    // Waves until the round is saturated (no request could still be admitted), as Postfix
    // sends a deferred message again later: concurrent reservations can refuse each other
    // (each subject's first comers differ), so a wave may admit less than there is room for.
    auto saturated = [&] {
      for (int u = 0; u < 4; ++u) {
        if (admitted[round.users[u]] < round.nu && admitted[round.account] < round.na &&
            admitted[round.ips[u % 2]] < round.ni) {
          return false;
        }
      }
      return true;
    };
    for (wave_no = 0; wave_no < kMaxWaves && !saturated(); ++wave_no) {
      sync.arrive_and_wait();  // start
      sync.arrive_and_wait();  // done, every refund landed
      ++waves;
      std::vector<int> refused;
      for (int i = 0; i < kInstances; ++i) {
        for (int k = 0; k < kInFlight; ++k) {
          int g = i * kInFlight + k;
          const Answer& a = answers[i][k];
          if (a.admitted) {
            ++admitted[round.users[g % 4]];
            ++admitted[round.account];
            ++admitted[round.ips[g % 2]];
          } else if (!a.refused_by.empty()) {
            refused.push_back(g);
          } else {
            ++errors;
            if (first_error.empty()) first_error = a.detail;
          }
        }
      }
      // A refusal is false when, after every refund of the wave, each of the request's
      // subjects still had room: it was refused only by reservations that were refunded.
      for (int g : refused) {
        ++refusals;
        if (admitted[round.users[g % 4]] < round.nu && admitted[round.account] < round.na &&
            admitted[round.ips[g % 2]] < round.ni) {
          ++false_refusals;
        }
      }
    }
    // Exact: Redis holds what was admitted and no limit is over its max (with retry_refused,
    // also live: below).
    bool exact = errors == 0;
    for (auto& [tag, n] : max) {
      CAPTURE(tag);
      CHECK(Total(tag) == admitted[tag]);
      CHECK(admitted[tag] <= n);
      exact = exact && Total(tag) == admitted[tag] && admitted[tag] <= n;
    }
    CHECK_MESSAGE(errors == 0, first_error);
    // Live: the round saturated and its binding limit admitted exactly its max.
    bool live = saturated();
    std::vector<std::string> binding;
    if (round_no % 4 == 0) binding = round.users;
    if (round_no % 4 == 1 || round_no % 4 == 3) binding = {round.account};
    if (round_no % 4 == 2) binding = round.ips;
    for (const std::string& tag : binding) live = live && admitted[tag] == max[tag];
    if (retry_refused) {
      CHECK(saturated());
      for (const std::string& tag : binding) {
        CAPTURE(tag);
        CHECK(admitted[tag] == max[tag]);
      }
      exact = exact && live;
    }
    if (exact) ++exact_rounds;
    if (live) ++live_rounds;
    total_false += false_refusals;
    total_refusals += refusals;
    std::printf(
        "race round %2d (%s binds): users %lld,%lld,%lld,%lld/%lld account %lld/%lld "
        "ips %lld,%lld/%lld; %d waves, %llu refusals, %llu false refusals%s\n",
        round_no, round.binding, (long long)admitted[round.users[0]],
        (long long)admitted[round.users[1]], (long long)admitted[round.users[2]],
        (long long)admitted[round.users[3]], (long long)round.nu,
        (long long)admitted[round.account], (long long)round.na,
        (long long)admitted[round.ips[0]], (long long)admitted[round.ips[1]],
        (long long)round.ni, waves, (unsigned long long)refusals,
        (unsigned long long)false_refusals,
        !exact ? " NOT EXACT" : live ? "" : " NOT SATURATED");
  }
  stop = true;
  sync.arrive_and_wait();
  for (auto& t : threads) t.join();
  uint64_t lost = 0, retries = 0, second = 0;
  for (auto& d : decisions) {
    lost += d->refunds_lost(), retries += d->refund_retries(), second += d->second_tries();
  }
  std::printf("race%s: %d of %d rounds exact, %d saturated; %llu refusals, %llu false "
              "(%.1f%%); refunds retried %llu, lost %llu; refusals decided again %llu\n",
              retry_refused ? " (retry_refused)" : "", exact_rounds, rounds, live_rounds,
              (unsigned long long)total_refusals,
              (unsigned long long)total_false,
              total_refusals ? 100.0 * total_false / total_refusals : 0.0,
              (unsigned long long)retries, (unsigned long long)lost,
              (unsigned long long)second);
  CHECK(exact_rounds == rounds);
  CHECK(lost == 0);
}

TEST_CASE("cluster decision: race, 4 instances x 64 in flight, exact for every limit") {
  Race(false);
}

TEST_CASE("cluster decision: race with refusals decided again after their refunds") {
  Race(true);
}

namespace {

// Redis CPU (user + sys, µs) of a node so far: INFO cpu.
double CpuMicros(RedisServer& node) {
  std::string info = node.CmdOne({"INFO", "cpu"});
  auto field = [&info](const std::string& name) {
    size_t at = info.find(name + ":");
    return at == std::string::npos ? 0.0 : std::stod(info.substr(at + name.size() + 1));
  };
  return (field("used_cpu_user") + field("used_cpu_sys")) * 1e6;
}

// `decisions` decisions of users spread over every slot (1,000 users, 50 accounts, 500 IPs;
// limits never reached), `in_flight` at a time, on one loop.
template <typename RunUntil>
void Drive(ClusterDecision& d, RunUntil run_until, int decisions, int in_flight,
           const std::string& run) {
  int sent = 0, done = 0;
  std::function<void()> next = [&] {
    int n = sent++;
    std::string user = "user:b" + std::to_string(n % 1000);
    std::string account = "account:b" + std::to_string(n % 50);
    std::string ip = "ip:10.9." + std::to_string(n % 500 / 250) + "." + std::to_string(n % 250);
    SubjectCallContext ctx;
    ctx.message_id = run + std::to_string(n);
    d.Decide(ctx, Limits(user, 1000000, account, 1000000, ip, 1000000),
             SubjectCosts{1, 1, 1000}, [&](SubjectDecision r) {
               CHECK(r.verdict.kind == Kind::kAdmit);
               ++done;
               if (sent < decisions) next();
             });
  };
  for (int i = 0; i < in_flight && sent < decisions; ++i) next();
  run_until([&] { return done == decisions; });
  REQUIRE(done == decisions);
}

}  // namespace

// Not run by default (ctest): store_cluster_decision_tests -tc='*Redis CPU*' --no-skip
TEST_CASE("cluster decision: Redis CPU per decision on 1 vs 3 primaries (printed)" *
          doctest::skip()) {
  const int decisions = 30000, in_flight = 64;
  {  // one Redis
    OneRedisLoop one(120);
    RedisServer& redis = one.redis;
    auto run = [&one](auto done) { one.Run(done); };
    ScriptRunner runner(one.client.get());
    {
      ClusterDecision decision(OneRedisSubjectCall(&runner));
      Drive(decision, run, 1000, in_flight, "warm");
      double before = CpuMicros(redis);
      auto t0 = std::chrono::steady_clock::now();
      Drive(decision, run, decisions, in_flight, "one");
      double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      double cpu = CpuMicros(redis) - before;
      std::printf("subject_count bench, 1 Redis: %d decisions (3 subjects each) in %.2f s "
                  "(%.0f/s), Redis CPU %.1f us per decision\n",
                  decisions, secs, decisions / secs, cpu / decisions);
    }
  }
  // Three primaries, with replicas (the binary's cluster: each primary also feeds its
  // replica) and without (a cluster of its own).
  std::unique_ptr<Cluster> plain;
  for (bool replicas : {true, false}) {
    if (!replicas) plain = std::make_unique<Cluster>(false);
    Cluster& cluster = replicas ? SharedCluster() : *plain;
    Router router(cluster.nodes[0]->port());
    ClusterScriptRunner runner(&router.client());
    ClusterDecision decision(ClusterSubjectCall(&runner));
    auto run = [&router](auto done) { router.RunUntil(done, 120000); };
    Drive(decision, run, 1000, in_flight, "warm");
    double before[3], after[3];
    for (int i = 0; i < 3; ++i) before[i] = CpuMicros(*cluster.nodes[i]);
    auto t0 = std::chrono::steady_clock::now();
    Drive(decision, run, decisions, in_flight, "three");
    double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    double total = 0, busiest = 0;
    for (int i = 0; i < 3; ++i) {
      after[i] = CpuMicros(*cluster.nodes[i]) - before[i];
      total += after[i];
      if (after[i] > busiest) busiest = after[i];
    }
    std::printf("subject_count bench, 3 primaries %s replicas: %d decisions in %.2f s "
                "(%.0f/s), Redis CPU %.1f us per decision (primaries %.1f, %.1f, %.1f), busiest "
                "primary's share %.0f%%\n",
                replicas ? "with" : "without", decisions, secs, decisions / secs,
                total / decisions, after[0] / decisions, after[1] / decisions,
                after[2] / decisions, 100 * busiest / total);
  }
}

}  // namespace policyd::test
