// Issue 17, resharding under load: 4 instances (each a ClusterClient on its own loop and
// thread) decide continuously for users, an account and IPs whose slots the test moves between
// primaries, slot by slot and key by key (CLUSTER SETSLOT IMPORTING/MIGRATING, MIGRATE one key
// at a time, SETSLOT NODE), as `redis-cli --cluster reshard` does, and back again, several
// times. Afterwards: no limit admitted more than its max, the binding limit (the account)
// admitted exactly its max, Redis holds exactly what was admitted, no call failed. Prints the
// figures. Every slot ends where it started, so the binary's other tests find the cluster as
// they expect (fixture.h OwnerOf).
#include <doctest/doctest.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "fixture.h"

namespace policyd::test {
namespace {

constexpr int kInstances = 4;
constexpr int kInFlight = 16;
constexpr int kCycles = 3;  // each slot moves away and back this many times

// Moves `slot` from primary `from` to primary `to` the way redis-cli --cluster reshard does:
// the target imports, the source migrates, keys go one MIGRATE at a time (so calls meet the
// slot half moved), then every node learns the new owner.
void MigrateSlot(Cluster& c, int slot, int from, int to) {
  std::string s = std::to_string(slot);
  REQUIRE(c.nodes[to]->CmdOne({"CLUSTER", "SETSLOT", s, "IMPORTING", c.ids[from]}) == "OK");
  REQUIRE(c.nodes[from]->CmdOne({"CLUSTER", "SETSLOT", s, "MIGRATING", c.ids[to]}) == "OK");
  for (;;) {
    auto keys = c.nodes[from]->Cmd({"CLUSTER", "GETKEYSINSLOT", s, "10"});
    if (keys.empty()) break;
    for (const std::string& k : keys) {
      std::string r = c.nodes[from]->CmdOne({"MIGRATE", "127.0.0.1",
                                             std::to_string(c.nodes[to]->port()), k, "0",
                                             "5000"});
      REQUIRE_MESSAGE((r == "OK" || r == "NOKEY"), r);
      std::this_thread::sleep_for(std::chrono::milliseconds(1));  // let calls see it half moved
    }
  }
  // The target first (it then answers for the slot), then the source, then everyone else.
  for (int n : {to, from}) c.nodes[n]->Cmd({"CLUSTER", "SETSLOT", s, "NODE", c.ids[to]});
  for (size_t n = 0; n < c.nodes.size(); ++n) {
    if (static_cast<int>(n) != to && static_cast<int>(n) != from) {
      c.nodes[n]->Cmd({"CLUSTER", "SETSLOT", s, "NODE", c.ids[to]});
    }
  }
}

struct Tally {
  std::mutex mu;
  std::map<std::string, int64_t> admitted;
  uint64_t decisions = 0, refusals = 0, failures = 0;
  std::string first_failure;
};

}  // namespace

TEST_CASE("cluster decision: resharding the subjects' slots under load, counts exact") {
  Cluster& cluster = SharedCluster();
  std::vector<std::string> users;
  for (int j = 0; j < 4; ++j) users.push_back(TagOn(0, "user:rsu", j));
  std::string account = TagOn(1, "account:rsa");
  std::vector<std::string> ips = {TagOn(2, "ip:10.77.0.", 0), TagOn(2, "ip:10.77.0.", 1)};
  // The account binds: 4 users x 400 and 2 IPs x 700 leave room past its 900.
  const int64_t nu = 400, na = 900, ni = 700;
  std::map<std::string, int64_t> max;
  for (auto& u : users) max[u] = nu;
  max[account] = na;
  for (auto& ip : ips) max[ip] = ni;

  Instances instances(cluster, kInstances, /*retry_refused=*/false, "user:warmrs");
  auto& routers = instances.routers;
  auto& decisions = instances.decisions;

  Tally tally;
  std::atomic<bool> stop{false};
  auto saturated = [&] {
    std::lock_guard<std::mutex> lock(tally.mu);
    for (int u = 0; u < 4; ++u) {
      if (tally.admitted[users[u]] < nu && tally.admitted[account] < na &&
          tally.admitted[ips[u % 2]] < ni) {
        return false;
      }
    }
    return true;
  };
  std::vector<std::thread> threads;
  for (int i = 0; i < kInstances; ++i) {
    threads.emplace_back([&, i] {
      int sent = 0, done = 0;
      std::function<void()> next = [&] {
        int g = i + kInstances * sent++;
        const std::string& user = users[g % 4];
        const std::string& ip = ips[(g / 4) % 2];
        SubjectCallContext ctx;
        ctx.message_id = "rs" + std::to_string(g);
        ctx.reservation_ms = kSpan;
        decisions[i]->Decide(
            ctx, Limits(user, nu, account, na, ip, ni), SubjectCosts{1, 1, 1000},
            [&, user, ip](SubjectDecision d) {
              ++done;
              {
                std::lock_guard<std::mutex> lock(tally.mu);
                ++tally.decisions;
                if (d.verdict.kind == Kind::kAdmit) {
                  ++tally.admitted[user], ++tally.admitted[account], ++tally.admitted[ip];
                } else if (d.verdict.kind == Kind::kRefuse) {
                  ++tally.refusals;
                } else {
                  ++tally.failures;
                  if (tally.first_failure.empty()) {
                    const SubjectOutcome& o = d.outcomes[d.verdict.deciding];
                    tally.first_failure = d.calls[d.verdict.deciding].tag + ": " + o.error +
                                          (d.verdict.kind == Kind::kGivenUp ? " (given up)" : "");
                  }
                }
              }
              if (!stop) next();
            });
      };
      for (int k = 0; k < kInFlight; ++k) next();
      routers[i]->RunUntil(
          [&] { return stop && done == sent && decisions[i]->refunds_in_flight() == 0; },
          60000);
    });
  }

  // Every live subject's slot moves to the next primary and back, kCycles times.
  std::vector<std::pair<int, int>> slots;  // slot, home primary
  for (auto& [tag, n] : max) slots.push_back({KeySlot(tag), OwnerOf(tag)});
  auto t0 = std::chrono::steady_clock::now();
  for (int cycle = 0; cycle < kCycles; ++cycle) {
    for (auto [slot, home] : slots) MigrateSlot(cluster, slot, home, (home + 1) % 3);
    for (auto [slot, home] : slots) MigrateSlot(cluster, slot, (home + 1) % 3, home);
  }
  double migrate_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  uint64_t during;
  {
    std::lock_guard<std::mutex> lock(tally.mu);
    during = tally.decisions;
  }
  // Then until no request could still be admitted.
  Cluster::Await(saturated, 15000);
  stop = true;
  for (auto& t : threads) t.join();

  uint64_t redirects = 0, map_reads = 0, lost = 0;
  for (int i = 0; i < kInstances; ++i) {
    redirects += routers[i]->client().redirects();
    map_reads += routers[i]->client().map_reads();
    lost += decisions[i]->refunds_lost();
  }
  std::printf("reshard: %zu slots moved %d times each (%.2f s), %llu decisions during the moves, "
              "%llu in all: %llu admitted (account %lld/%lld), %llu refusals, %llu failures; "
              "redirects followed %llu, map reads %llu, refunds lost %llu\n",
              slots.size(), 2 * kCycles, migrate_s, (unsigned long long)during,
              (unsigned long long)tally.decisions, (unsigned long long)tally.admitted[account],
              (long long)tally.admitted[account], (long long)na,
              (unsigned long long)tally.refusals, (unsigned long long)tally.failures,
              (unsigned long long)redirects, (unsigned long long)map_reads,
              (unsigned long long)lost);
  CHECK_MESSAGE(tally.failures == 0, tally.first_failure);
  CHECK(lost == 0);
  CHECK(saturated());
  CHECK(tally.admitted[account] == na);
  for (auto& [tag, n] : max) {
    CAPTURE(tag);
    CHECK(OwnerOf(tag) >= 0);
    CHECK(tally.admitted[tag] <= n);
    CHECK(Total(tag) == tally.admitted[tag]);  // every slot is home again
  }
}

}  // namespace policyd::test
