// Issue 17: complaint and bounce signals and the account rates through ReportStore on a real
// Redis Cluster (3 primaries), against the same calls on one redis-server. A user's complaint
// counts in the user's slot and in its account's (pd:complaints:{account:A} and the slot's
// rated set pd:rated_accounts:{TAG}), here on three different primaries; the outcomes, rate
// texts, evidence entries, events and account rows must be the ones one Redis gives, and
// concurrent complaints crossing the block level block the user once.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "report_store_fixture.h"
#include "core/decide_args.h"
#include "core/report_slot.h"
#include "store/cluster_script_runner.h"
#include "store/report_store.h"
#include "store/script_runner.h"

namespace policyd::test {
namespace {

using Outcomes = std::vector<SignalOutcome>;

// One backend under test: a ReportStore, a way to run its loop, and a command on the node that
// holds argv[1].
struct SignalBackend {
  std::function<void(std::function<bool()>)> run_until;
  std::function<std::vector<std::string>(const std::vector<std::string>&)> cmd;
  ReportStore* store = nullptr;
  Config config = TestConfig();

  template <typename T, typename Start>
  T Await(Start start) {
    return AwaitCall<T>(run_until, std::move(start));
  }

  Outcomes Ingest(const std::vector<Signal>& signals) {
    auto r = Await<Result<Outcomes>>(
        [&](auto done) { store->IngestSignals(config, signals, "test", done); });
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? std::string() : r.error().message));
    return *r;
  }

  std::vector<AccountRateRow> Rates() {
    auto r = Await<Result<std::vector<AccountRateRow>>>(
        [&](auto done) { store->AccountRates(config, 2000, done); });
    REQUIRE(r.ok());
    return *r;
  }

  // Messages counted in the current rate bucket, as decide.lua or sent_count.lua count them.
  void Sent(const std::string& tag, int n) {
    uint64_t window = config.abuse.rate_window_ms;
    uint64_t bucket = (window + 27) / 28;
    uint64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                       std::chrono::system_clock::now().time_since_epoch())
                       .count();
    cmd({"HINCRBY", "pd:sent:{" + tag + "}", std::to_string(now / bucket), std::to_string(n)});
  }

  int64_t Count(const std::string& key) {
    int64_t n = 0;
    auto flat = cmd({"HGETALL", key});
    for (size_t i = 1; i < flat.size(); i += 2) n += std::stoll(flat[i]);
    return n;
  }

  // The evidence entries of `tag` as { kind, rate, account_rate }, newest first.
  std::vector<std::vector<std::string>> Evidence(const std::string& tag) {
    std::vector<std::vector<std::string>> out;
    for (const std::string& e : cmd({"LRANGE", "pd:evidence:{" + tag + "}", "0", "-1"})) {
      auto j = nlohmann::json::parse(e);
      out.push_back({j.value("kind", ""), j.value("rate", ""), j.value("account_rate", "")});
    }
    return out;
  }

  // The (type, subject) of the events of `tag`: on one Redis in pd:events, on a cluster in the
  // outbox of the subject's slot (no relay runs here).
  std::vector<std::string> Events(const std::string& tag, bool cluster) {
    std::string stream = cluster ? "pd:events:{" + std::string(SubjectSlotTag(tag)) + "}"
                                 : std::string("pd:events");
    std::vector<std::string> out;
    auto flat = cmd({"XRANGE", stream, "-", "+"});
    for (size_t i = 0; i + 3 < flat.size(); ++i) {
      if (flat[i] == "type" && flat[i + 2] == "subject" && flat[i + 3] == tag) {
        out.push_back(flat[i + 1]);
      }
    }
    return out;
  }
};

Signal Sig(const std::string& subject, const std::string& kind, const std::string& id = "") {
  Result<Signal> s = MakeSignal(subject, kind, kind + " from a feedback loop", id);
  REQUIRE(s.ok());
  return *s;
}

// A reply flattened as RedisServer::Cmd gives it (nil left out).
std::vector<std::string> Flat(const Result<RedisValue>& r) {
  REQUIRE(r.ok());
  std::vector<std::string> out;
  std::function<void(const RedisValue&)> walk = [&](const RedisValue& v) {
    if (v.type == RedisValue::Type::kArray) {
      for (const RedisValue& e : v.elements) walk(e);
    } else if (v.type != RedisValue::Type::kNil) {
      out.push_back(v.AsString());
    }
  };
  walk(*r);
  return out;
}

// The backend of a ClusterReports: commands go to the primary that holds argv[1].
SignalBackend OnCluster(ClusterReports& c) {
  SignalBackend be;
  be.store = &c.store;
  be.run_until = [&c](std::function<bool()> done) { c.RunUntil(done); };
  be.cmd = [&c](const std::vector<std::string>& argv) {
    return Flat(c.router.Call(argv[1], argv));
  };
  return be;
}

// The backend of a OneRedisReports.
SignalBackend OnOneRedis(OneRedisReports& one) {
  SignalBackend be;
  be.store = &one.store;
  be.run_until = [&one](std::function<bool()> done) { one.RunUntil(done); };
  be.cmd = [&one](const std::vector<std::string>& argv) { return one.redis.Cmd(argv); };
  return be;
}

std::vector<std::string> Names(const std::vector<AccountRateRow>& rows) {
  std::vector<std::string> out;
  for (const AccountRateRow& r : rows) {
    out.push_back(r.account + " " + std::to_string(r.messages) + " " +
                  std::to_string(r.complaints) + " " + std::to_string(r.bounces));
  }
  return out;
}

std::vector<std::string> Texts(const Outcomes& outcomes) {
  std::vector<std::string> out;
  for (const SignalOutcome& o : outcomes) {
    out.push_back(o.outcome + " | " + o.score + " | " + o.block_reason + " | " + o.rate_text);
  }
  return out;
}

}  // namespace

TEST_CASE("cluster signals: complaints and bounces as on one Redis; account rates merged") {
  ClusterReports cluster;
  SignalBackend on_cluster = OnCluster(cluster);
  OneRedisReports one;
  SignalBackend on_one = OnOneRedis(one);

  // Users on primaries 0 and 1 of an account on primary 2; another account on primary 0 with
  // a user on primary 2; a user with no account.
  std::string acme = TagOn(2, "account:acme").substr(8), beta = TagOn(0, "account:beta").substr(8);
  std::string a = TagOn(0, "user:a"), b = TagOn(1, "user:b"), c = TagOn(2, "user:c"),
              d = TagOn(1, "user:d");
  for (SignalBackend* be : {&on_one, &on_cluster}) {
    be->cmd({"HSET", "pd:user:{" + a + "}", "account", acme});
    be->cmd({"HSET", "pd:user:{" + b + "}", "account", acme});
    be->cmd({"HSET", "pd:user:{" + c + "}", "account", beta});
    be->Sent(a, 1000);
    be->Sent(b, 300);
    be->Sent(c, 200);
    be->Sent(d, 400);
    be->Sent("account:" + acme, 1300);
    be->Sent("account:" + beta, 200);
  }
  std::vector<std::vector<Signal>> batches = {
      // Mixed kinds and slots in one batch; a spam signal is judged by score.
      {Sig(a, "complaint", "c-1"), Sig(b, "bounce", "b-1"), Sig(c, "complaint", "c-3"),
       Sig("sender:x@example.com", "complaint"), Sig(d, "bounce"), Sig(a, "spam")},
      // The same feedback id again (in the batch too) counts once, in the user and account.
      {Sig(a, "complaint", "c-1"), Sig(a, "complaint", "c-2"), Sig(a, "complaint", "c-2")},
      // a's complaints pass the 0.5 % level at the 6th; b's bounces warn.
      {Sig(a, "complaint", "c-4"), Sig(a, "complaint", "c-5"), Sig(b, "bounce", "b-2"),
       Sig(a, "complaint", "c-6"), Sig(a, "complaint", "c-7"), Sig(b, "bounce", "b-3")},
      // Only duplicates: nothing is judged.
      {Sig(a, "complaint", "c-7"), Sig(b, "bounce", "b-3")},
  };
  for (const auto& batch : batches) {
    Outcomes want = on_one.Ingest(batch);
    Outcomes got = on_cluster.Ingest(batch);
    CHECK(Texts(got) == Texts(want));
  }
  CHECK(on_one.cmd({"EXISTS", "pd:block:{" + a + "}"}) == std::vector<std::string>{"1"});
  CHECK(on_cluster.cmd({"EXISTS", "pd:block:{" + a + "}"}) == std::vector<std::string>{"1"});
  for (const std::string& tag : {a, b, c, d}) {
    CAPTURE(tag);
    CHECK(on_cluster.Evidence(tag) == on_one.Evidence(tag));
    CHECK(on_cluster.Events(tag, true) == on_one.Events(tag, false));
    for (const char* kind : {"complaints", "bounces"}) {
      std::string k = std::string("pd:") + kind + ":{" + tag + "}";
      CHECK(on_cluster.Count(k) == on_one.Count(k));
    }
  }
  std::vector<std::string> a_events = on_one.Events(a, false);
  CHECK(std::count(a_events.begin(), a_events.end(), "block.created") == 1);
  for (const std::string& account : {acme, beta}) {
    CAPTURE(account);
    for (const char* kind : {"complaints", "bounces"}) {
      std::string k = std::string("pd:") + kind + ":{account:" + account + "}";
      CHECK(on_cluster.Count(k) == on_one.Count(k));
    }
    // The rated set of the account's slot names it (one set per slot on a cluster).
    std::string set = "pd:rated_accounts:{" + std::string(SubjectSlotTag("account:" + account)) +
                      "}";
    CHECK(on_cluster.cmd({"ZSCORE", set, account}).size() == 1);
  }
  CHECK(on_cluster.Count("pd:complaints:{account:" + acme + "}") == 6);
  CHECK(on_cluster.Count("pd:bounces:{account:" + acme + "}") == 3);
  CHECK(on_one.cmd({"KEYS", "pd:rated_accounts:*"}).empty());
  // The account rows: the same on both, newest first (beta's complaint came before acme's
  // last bounce).
  auto rows = on_one.Rates();
  CHECK(Names(rows) == std::vector<std::string>{acme + " 1300 6 3", beta + " 200 1 0"});
  CHECK(Names(on_cluster.Rates()) == Names(rows));
}

TEST_CASE("cluster signals: concurrent complaints crossing the block level block once") {
  ClusterReports cluster;
  SignalBackend be = OnCluster(cluster);
  ReportStore& store = cluster.store;
  std::string user = TagOn(0, "user:race"), account = TagOn(1, "account:race").substr(8);
  be.cmd({"HSET", "pd:user:{" + user + "}", "account", account});
  be.Sent(user, 200);  // 1 complaint is 0.5 %, at the level; the 2nd passes it
  // Eight ingests in flight at once on the loop: their three steps interleave.
  std::vector<std::optional<Result<Outcomes>>> out(8);
  for (size_t i = 0; i < out.size(); ++i) {
    store.IngestSignals(be.config, {Sig(user, "complaint", "r-" + std::to_string(i))}, "test",
                        [&out, i](Result<Outcomes> r) { out[i] = std::move(r); });
  }
  cluster.RunUntil([&out] {
    for (const auto& o : out) {
      if (!o) return false;
    }
    return true;
  });
  std::map<std::string, int> outcomes;
  for (const auto& o : out) {
    REQUIRE(o.has_value());
    REQUIRE(o->ok());
    ++outcomes[(**o)[0].outcome];
  }
  CHECK(outcomes["blocked"] == 1);
  CHECK(outcomes["warned"] + outcomes["counted"] == 7);
  std::vector<std::string> events = be.Events(user, true);
  CHECK(std::count(events.begin(), events.end(), "block.created") == 1);
  CHECK(be.Count("pd:complaints:{" + user + "}") == 8);
  CHECK(be.Count("pd:complaints:{account:" + account + "}") == 8);
  CHECK(Names(be.Rates()) == std::vector<std::string>{account + " 0 8 0"});
}

}  // namespace policyd::test
