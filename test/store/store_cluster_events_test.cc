// Issue 17: the abuse writes on a real Redis Cluster (3 primaries). record_throttles,
// block_add, block_lift and block_expire_sweep run in their subject's slot, with the keys that
// are not the subject's in that slot too: the report (pd:report:{SLOTTAG}.HEX), the outbox
// (pd:events:{SLOTTAG}) and the expiry index (pd:block_expiries:{SLOTTAG}). The event relay
// moves outbox entries to pd:events; the cluster expiry sweeper emits block.expired per slot.
#include <doctest/doctest.h>

#include <atomic>
#include <map>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cluster_fixture.h"
#include "core/decide_args.h"
#include "core/report_slot.h"
#include "core/report_token.h"
#include "store/cluster_expiry_sweeper.h"
#include "store/cluster_script_runner.h"
#include "store/event_relay.h"

namespace policyd::test {
namespace {

constexpr uint64_t kMin = 60 * 1000;
constexpr uint64_t kHour = 60 * kMin;

Config AbuseConfig() {
  Config c = TestConfig();
  c.abuse.throttle_events = 5;  // the 6th throttle within 10 minutes blocks
  c.abuse.within_ms = 10 * kMin;
  c.abuse.block_for_ms = kHour;
  c.abuse.escalate = 2.0;
  c.abuse.memory_ms = 7 * 24 * kHour;
  c.abuse.max_block_ms = 3 * kHour;
  return c;
}

std::string Home(const std::string& tag) { return std::string(SubjectSlotTag(tag)); }

// One policyd instance's view of the cluster: its own router, loop and function runner.
struct Instance {
  explicit Instance(int port) : router(port), runner(&router.client()) {}

  Result<RedisValue> Run(const std::string& name, const std::string& route_key,
                         std::vector<std::string> args) {
    std::optional<Result<RedisValue>> out;
    runner.Run(name, route_key, std::move(args), 2000,
               [&out](Result<RedisValue> r) { out = std::move(r); });
    router.RunUntil([&out] { return out.has_value(); });
    REQUIRE(out.has_value());
    return std::move(*out);
  }

  // One throttle of `tag`, as LocalRefusals records it, in the subject's slot.
  Result<RedisValue> RecordThrottle(const std::string& tag, const Config& c) {
    return Run("record_throttles", "pd:throttles:{" + tag + "}",
               {"pd:", AbuseSpec(c).escalation, "0", std::to_string(c.report.ttl_ms), Home(tag),
                tag, "1", NewReportId(tag), "messages 1/1 per 86400s (user)"});
  }

  Result<RedisValue> AddBlock(const std::string& tag, uint64_t duration_ms) {
    return Run("block_add", "pd:block:{" + tag + "}",
               {"pd:", "0", tag, "manual", "test", std::to_string(duration_ms), NewReportId(tag),
                "3600000", "10", "3600000", "policyctl", Home(tag)});
  }

  Result<RedisValue> LiftBlock(const std::string& tag) {
    return Run("block_lift", "pd:block:{" + tag + "}", {"pd:", "0", tag, "policyctl", Home(tag)});
  }

  Router router;
  ClusterScriptRunner runner;
};

std::map<std::string, std::string> Hash(Router& router, const std::string& key) {
  Result<RedisValue> r = router.Call(key, {"HGETALL", key});
  REQUIRE(r.ok());
  std::map<std::string, std::string> h;
  for (size_t i = 0; i + 1 < r->elements.size(); i += 2) {
    h[r->elements[i].AsString()] = r->elements[i + 1].AsString();
  }
  return h;
}

// An entry of the home stream pd:events.
struct Event {
  std::string type, subject, outbox;
};

std::vector<Event> HomeEvents(Router& router) {
  Result<RedisValue> r = router.Call("pd:events", {"XRANGE", "pd:events", "-", "+"});
  REQUIRE(r.ok());
  std::vector<Event> out;
  for (const RedisValue& e : r->elements) {
    REQUIRE(e.elements.size() == 2);
    std::map<std::string, std::string> f;
    const auto& flat = e.elements[1].elements;
    for (size_t i = 0; i + 1 < flat.size(); i += 2) f[flat[i].AsString()] = flat[i + 1].AsString();
    out.push_back({f["type"], f["subject"], f["outbox"]});
  }
  return out;
}

// Entries left in outboxes (pd:events:{...}) on any primary. An emptied outbox lingers a
// minute (outbox_ack.lua), so count entries, not keys.
int64_t OutboxEntries(Cluster& cluster) {
  int64_t n = 0;
  for (int i = 0; i < 3; ++i) {
    for (const std::string& k : cluster.nodes[i]->Cmd({"KEYS", "pd:events:{*"})) {
      n += std::stoll(cluster.nodes[i]->CmdOne({"XLEN", k}));
    }
  }
  return n;
}

uint64_t WallMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

}  // namespace

TEST_CASE("cluster abuse writes: a throttle race blocks once per subject; relay; expiry") {
  Cluster cluster;
  Config config = AbuseConfig();
  std::string users[3] = {TagOn(0, "user:t"), TagOn(1, "user:t"), TagOn(2, "user:t")};

  // Threads of their own, each an instance with its own connections, throttle every user at
  // once: 4 x 6 = 24 throttles per user, of which the 6th blocks.
  constexpr int kThreads = 4, kCalls = 6;
  std::atomic<int> ready{0}, errors{0}, blocked_replies{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      Instance in(cluster.nodes[0]->port());
      // The library loaded before the race.
      if (!in.Run("user_show", "pd:user:{" + users[0] + "}", {"pd:", users[0]}).ok()) ++errors;
      ++ready;
      while (ready < kThreads) std::this_thread::yield();
      for (int c = 0; c < kCalls; ++c) {
        for (const std::string& u : users) {
          Result<RedisValue> r = in.RecordThrottle(u, config);
          if (!r.ok() || r->elements.size() != 1) {
            ++errors;
            continue;
          }
          if (r->elements[0].elements.size() == 5 && r->elements[0].elements[1].AsInt() == 1) {
            ++blocked_replies;
          }
        }
      }
    });
  }
  for (std::thread& t : threads) t.join();
  CHECK(errors == 0);
  // 6 of each user's 24 throttles came before the block.
  CHECK(blocked_replies == 3 * (kThreads * kCalls - 5));

  Instance main(cluster.nodes[1]->port());
  for (int i = 0; i < 3; ++i) {
    const std::string& u = users[i];
    CAPTURE(u);
    std::map<std::string, std::string> block = Hash(main.router, "pd:block:{" + u + "}");
    CHECK(block["reason"] == "rate");
    CHECK(Hash(main.router, "pd:blockhist:{" + u + "}")["blocks"] == "1");  // exactly one
    // The block's report: at its slot key, on the subject's primary.
    std::string report_key = "pd:" + ReportKeyName(block["report"]);
    CHECK(ReportIdSlotTag(block["report"]) == Home(u));
    CHECK(KeySlot(report_key) == KeySlot(u));
    CHECK(cluster.nodes[i]->CmdOne({"HGET", report_key, "kind"}) == "block");
    CHECK(cluster.nodes[i]->CmdOne({"HGET", report_key, "escalates"}) == "1");
    // Its events wait in the slot's outbox, its expiry in the slot's index.
    std::string outbox = "pd:events:{" + Home(u) + "}";
    CHECK(KeySlot(outbox) == KeySlot(u));
    CHECK(cluster.nodes[i]->CmdOne({"XLEN", outbox}) == "2");
    CHECK(cluster.nodes[i]->CmdOne({"ZSCORE", "pd:block_expiries:{" + Home(u) + "}", u}) ==
          block["expires"]);
  }

  // One relay moves exactly the events written, each once, and empties every outbox; an
  // empty outbox goes by its TTL.
  EventRelay relay(main.router.loop(), &main.router.client(), &main.runner, {});
  relay.ScanNow();
  main.router.RunUntil([&] { return relay.idle(); });
  CHECK(relay.failures() == 0);
  CHECK(relay.moved() == 6);
  std::vector<Event> events = HomeEvents(main.router);
  std::map<std::string, std::vector<std::string>> by_subject;
  std::set<std::string> outbox_ids;
  for (const Event& e : events) {
    by_subject[e.subject].push_back(e.type);
    outbox_ids.insert(e.outbox);
    CHECK(e.outbox.rfind(Home(e.subject) + "-", 0) == 0);
  }
  CHECK(events.size() == 6);
  CHECK(outbox_ids.size() == 6);
  {
    std::string outbox = "pd:events:{" + Home(users[0]) + "}";
    int64_t ttl = std::stoll(cluster.nodes[0]->CmdOne({"PTTL", outbox}));
    CHECK(ttl > 0);
    CHECK(ttl <= 60000);
  }
  for (const std::string& u : users) {
    CHECK(by_subject[u] == std::vector<std::string>{"throttle.started", "block.created"});
  }
  CHECK(OutboxEntries(cluster) == 0);

  // Expiry, per slot: a sweep at a time past the blocks emits block.expired into each slot's
  // outbox, which the relay (told at once) moves home.
  ClusterExpirySweeper::Options options;
  uint64_t later = WallMs() + 2 * kHour;
  options.now = [later] { return later; };
  ClusterExpirySweeper sweeper(main.router.loop(), &main.router.client(), &main.runner, &relay,
                               options);
  sweeper.SweepNow();
  main.router.RunUntil([&] { return sweeper.idle() && relay.idle(); });
  CHECK(sweeper.failures() == 0);
  CHECK(sweeper.expired() == 3);
  events = HomeEvents(main.router);
  REQUIRE(events.size() == 9);
  std::set<std::string> expired;
  for (size_t i = 6; i < events.size(); ++i) {
    CHECK(events[i].type == "block.expired");
    expired.insert(events[i].subject);
  }
  CHECK(expired == std::set<std::string>(users, users + 3));
  CHECK(OutboxEntries(cluster) == 0);
  for (int i = 0; i < 3; ++i) {
    CHECK(cluster.nodes[i]->Cmd({"KEYS", "pd:block_expiries:{*"}).empty());
  }
  // A second sweep finds nothing more.
  sweeper.SweepNow();
  main.router.RunUntil([&] { return sweeper.idle() && relay.idle(); });
  CHECK(sweeper.expired() == 3);
  CHECK(HomeEvents(main.router).size() == 9);

  // block_lift on the cluster: block.lifted, through the outbox.
  REQUIRE(main.LiftBlock(users[0]).ok());
  // The lingering outbox holds an entry again: it no longer expires.
  CHECK(cluster.nodes[0]->CmdOne({"PTTL", "pd:events:{" + Home(users[0]) + "}"}) == "-1");
  relay.Notify(Home(users[0]));
  main.router.RunUntil([&] { return relay.idle(); });
  events = HomeEvents(main.router);
  REQUIRE(events.size() == 10);
  CHECK(events.back().type == "block.lifted");
  CHECK(events.back().subject == users[0]);

  // A home that is not the subject's slot-tag names a key of another slot: Redis refuses the
  // call there (the script stops at that key), so nothing lands in another slot's outbox.
  Result<RedisValue> wrong =
      main.Run("block_add", "pd:block:{" + users[1] + "}",
               {"pd:", "0", users[1], "manual", "test", "0", NewReportId(users[1]), "3600000",
                "10", "3600000", "policyctl", Home(users[0])});
  CHECK_FALSE(wrong.ok());
  CHECK(cluster.nodes[0]->CmdOne({"XLEN", "pd:events:{" + Home(users[0]) + "}"}) == "0");
}

TEST_CASE("cluster event relay: two relays at once lose no event") {
  Cluster cluster;
  std::string users[3] = {TagOn(0, "user:r"), TagOn(1, "user:r"), TagOn(2, "user:r")};
  constexpr int kRounds = 50;  // each a block_add and a block_lift per user: 300 events

  std::atomic<bool> done{false};
  std::atomic<uint64_t> moved{0}, failures{0};
  std::vector<std::thread> relays;
  for (int t = 0; t < 2; ++t) {
    relays.emplace_back([&, t] {
      Router router(cluster.nodes[t]->port());
      ClusterScriptRunner runner(&router.client());
      EventRelay::Options options;
      options.scan_interval_ms = 5;  // both pass over the same outboxes as often as they can
      options.batch = 4;
      EventRelay relay(router.loop(), &router.client(), &runner, options);
      relay.Start();
      router.RunUntil([&] { return done.load(); }, 60000);
      bool stopped = false;
      relay.Stop([&stopped] { stopped = true; });
      router.RunUntil([&] { return stopped && relay.idle(); });
      moved += relay.moved();
      failures += relay.failures();
    });
  }

  Instance writer(cluster.nodes[2]->port());
  for (int round = 0; round < kRounds; ++round) {
    for (const std::string& u : users) {
      REQUIRE(writer.AddBlock(u, 0).ok());
      REQUIRE(writer.LiftBlock(u).ok());
    }
  }
  // An entry leaves its outbox only after it was added home.
  Cluster::Await([&] { return OutboxEntries(cluster) == 0; }, 30000);
  CHECK(OutboxEntries(cluster) == 0);
  done = true;
  for (std::thread& t : relays) t.join();

  // Read by a router of its own: the writer's loop sat idle while the relays ran.
  Router reader(cluster.nodes[0]->port());
  std::vector<Event> events = HomeEvents(reader);
  std::set<std::string> seen;
  std::map<std::string, std::vector<std::string>> first_by_subject;  // first copies, in order
  for (const Event& e : events) {
    if (seen.insert(e.outbox).second) first_by_subject[e.subject].push_back(e.type);
  }
  CHECK(seen.size() == 3 * 2 * kRounds);  // every event, none lost
  for (const std::string& u : users) {
    CAPTURE(u);
    REQUIRE(first_by_subject[u].size() == 2 * kRounds);
    for (int i = 0; i < 2 * kRounds; ++i) {
      CHECK(first_by_subject[u][i] == (i % 2 == 0 ? "block.created" : "block.lifted"));
    }
  }
  MESSAGE("two relays: " << events.size() << " entries home for " << seen.size()
                         << " events (" << events.size() - seen.size() << " duplicates), "
                         << moved.load() << " moved, " << failures.load() << " failed passes");
}

}  // namespace policyd::test
