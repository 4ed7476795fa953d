#include "store/report_store.h"

#include <algorithm>
#include <memory>
#include <optional>
#include <set>

#include "core/cluster_slot.h"
#include "core/decide_args.h"
#include "core/redis_keys.h"
#include "core/report_slot.h"
#include "core/report_token.h"
#include "core/review_queue.h"
#include "store/cluster_scan.h"

namespace policyd {
namespace {

// Transport errors and script errors alike become an Error for the caller.
Result<RedisValue> Checked(Result<RedisValue> r) {
  if (!r.ok()) return r.error();
  if (r->IsError()) return Error{ErrorCode::kInternal, r->str};
  return r;
}

// The kinds judged as rates (_rates.lua), which on a cluster also count in another slot.
bool IsRateKind(const std::string& kind) { return kind == "complaint" || kind == "bounce"; }

}  // namespace

Result<std::vector<Report>> ReviewListReports(const RedisValue& reply) {
  std::vector<Report> out;
  for (std::size_t i = 1; i < reply.elements.size(); ++i) {
    const RedisValue& e = reply.elements[i];
    if (e.elements.size() != 2) return Error{ErrorCode::kInternal, "bad review_list entry"};
    std::vector<std::string> flat;
    for (const RedisValue& v : e.elements[1].elements) flat.push_back(v.AsString());
    out.push_back(MakeReport(e.elements[0].AsString(), flat));
  }
  return out;
}

void CountRateOutcome(const SignalOutcome& outcome, const std::string& kind, Metrics* metrics) {
  if (outcome.outcome == "warned") ++metrics->rate_warnings[kind];
  if (outcome.outcome == "duplicate") ++metrics->duplicate_feedback[kind];
}

void ReportStore::Read(std::vector<std::string> argv, uint64_t timeout_ms,
                       RedisClient::Callback callback) {
  if (cluster_) {
    uint16_t slot = KeySlot(argv[1]);
    return cluster_->Command(slot, std::move(argv), timeout_ms, std::move(callback));
  }
  client_->Command(std::move(argv), timeout_ms, std::move(callback));
}

void ReportStore::RunScript(std::string_view name, std::string route_key,
                            std::vector<std::string> args, uint64_t timeout_ms,
                            RedisClient::Callback callback) {
  if (cluster_scripts_) {
    return cluster_scripts_->Run(name, std::move(route_key), std::move(args), timeout_ms,
                                 std::move(callback));
  }
  scripts_->Run(name, std::move(args), timeout_ms, std::move(callback));
}

std::string ReportStore::HomeOf(const Config& config, const std::string& id) const {
  return cluster_ ? std::string(ReviewQueueTag(config.redis.key_prefix, id)) : std::string();
}

void ReportStore::Get(const Config& config, const std::string& id,
                      std::function<void(Result<std::optional<Report>>)> callback) {
  Read({"HGETALL", config.redis.key_prefix + ReportKeyName(id)}, config.server.request_timeout_ms,
       [id, callback = std::move(callback)](Result<RedisValue> reply) {
         Result<RedisValue> r = Checked(std::move(reply));
         if (!r.ok()) return callback(r.error());
         if (r->elements.empty()) return callback(std::optional<Report>());
         std::vector<std::string> flat;
         for (const RedisValue& v : r->elements) flat.push_back(v.AsString());
         callback(std::optional<Report>(MakeReport(id, flat)));
       });
}

void ReportStore::ListQueue(const Config& config, const std::string& home, std::size_t max,
                            std::function<void(Result<std::vector<Report>>)> callback) {
  const std::string& prefix = config.redis.key_prefix;
  std::string queue = home.empty() ? prefix + "reviews" : prefix + "reviews:{" + home + "}";
  RunScript("review_list", queue, {prefix, std::to_string(max), home},
            config.server.request_timeout_ms,
            [callback = std::move(callback)](Result<RedisValue> reply) {
              Result<RedisValue> r = std::move(reply);  // error replies are Errors
              if (!r.ok()) return callback(r.error());
              callback(ReviewListReports(*r));
            });
}

void ReportStore::ListReviews(const Config& config, std::size_t max,
                              std::function<void(Result<std::vector<Report>>)> callback) {
  if (max == 0) return callback(std::vector<Report>());
  if (!cluster_) return ListQueue(config, "", max, std::move(callback));
  // Every queue's slot-tag first (a key may come twice; a key SCAN finds is not trusted to be
  // ours unless it is exactly PREFIXreviews:{TAG}), then review_list on each at once.
  struct Walk {
    std::set<std::string> homes;
    std::vector<std::vector<Report>> lists;
    std::size_t left = 0;
    std::optional<Error> error;
  };
  auto walk = std::make_shared<Walk>();
  auto snapshot = std::make_shared<const Config>(config);  // used again when the scan ends
  std::string head = config.redis.key_prefix + "reviews:";
  ScanPrimaries(
      cluster_, GlobEscape(head) + "{*", "list", config.server.request_timeout_ms,
      [walk, head](const std::string& key) {
        std::string_view home = KeySlotTag(key, head);
        if (!home.empty()) walk->homes.emplace(home);
      },
      [this, walk, snapshot, max, callback = std::move(callback)](bool ok) {
        if (!ok) return callback(Error{ErrorCode::kInternal, "review queues: SCAN failed"});
        if (walk->homes.empty()) return callback(std::vector<Report>());
        walk->lists.resize(walk->homes.size());
        walk->left = walk->homes.size();
        std::size_t i = 0;
        for (const std::string& home : walk->homes) {
          ListQueue(*snapshot, home, max,
                    [walk, i, max, callback](Result<std::vector<Report>> list) {
                      if (list.ok()) {
                        walk->lists[i] = std::move(*list);
                      } else if (!walk->error) {
                        walk->error = list.error();
                      }
                      if (--walk->left > 0) return;
                      if (walk->error) return callback(*walk->error);
                      callback(MergeReviews(std::move(walk->lists), max));
                    });
          ++i;
        }
      });
}

void ReportStore::RequestReview(const Config& config, const std::string& id,
                                const std::string& text,
                                std::function<void(Result<std::string>)> callback) {
  const std::string& prefix = config.redis.key_prefix;
  RunScript("review", prefix + ReportKeyName(id), {prefix, "0", id, text, HomeOf(config, id)},
            config.server.request_timeout_ms,
            [callback = std::move(callback)](Result<RedisValue> reply) {
              Result<RedisValue> r = std::move(reply);  // error replies are Errors
              if (!r.ok()) return callback(r.error());
              callback(r->AsString());
            });
}

void ReportStore::ResolveReview(const Config& config, const std::string& id,
                                const std::string& note, const std::string& source,
                                RedisClient::Callback callback) {
  const std::string& prefix = config.redis.key_prefix;
  RunScript("review_resolve", prefix + ReportKeyName(id),
            {prefix, "0", id, note, source, HomeOf(config, id)}, config.server.request_timeout_ms,
            std::move(callback));
}

void ReportStore::GetAclToday(const Config& config, const Report& report,
                              std::function<void(Result<AclToday>)> callback) {
  auto field = [&](const char* name) {
    auto it = report.fields.find(name);
    return it == report.fields.end() ? std::string() : it->second;
  };
  std::string account = field("account"), subject = field("subject");
  if (field("kind") != "acl" || !IsValidAccountName(account) || !subject.starts_with("user:")) {
    return callback(AclToday());
  }
  // subject is the tag decide.lua wrote (already escaped, core/redis_keys.h).
  const std::string& prefix = config.redis.key_prefix;
  uint64_t timeout = config.server.request_timeout_ms;
  Read(
      {"HGETALL", BuildKey(prefix, "domains", "account:" + account)}, timeout,
      [this, prefix, subject, timeout, callback = std::move(callback)](Result<RedisValue> reply) {
        Result<RedisValue> r = Checked(std::move(reply));
        if (!r.ok()) return callback(r.error());
        auto today = std::make_shared<AclToday>();
        for (std::size_t i = 0; i + 1 < r->elements.size(); i += 2) {
          today->account_domains[r->elements[i].AsString()] = r->elements[i + 1].AsString();
        }
        Read({"SMEMBERS", BuildKey(prefix, "grants", subject)}, timeout,
             [today, callback](Result<RedisValue> reply) {
               Result<RedisValue> g = Checked(std::move(reply));
               if (!g.ok()) return callback(g.error());
               for (const RedisValue& v : g->elements) today->grants.push_back(v.AsString());
               callback(std::move(*today));
             });
      });
}

void ReportStore::RunBatch(std::string_view name, std::vector<BatchCall> calls, std::size_t n,
                           uint64_t timeout_ms,
                           std::function<void(Result<std::vector<RedisValue>>)> done) {
  if (calls.empty()) return done(std::vector<RedisValue>(n));
  struct Batch {
    std::vector<RedisValue> out;
    std::size_t waiting = 0;
    std::optional<Error> error;
    std::function<void(Result<std::vector<RedisValue>>)> done;
  };
  auto batch = std::make_shared<Batch>();
  batch->out.resize(n);
  batch->waiting = calls.size();
  batch->done = std::move(done);
  for (BatchCall& c : calls) {
    RunScript(name, std::move(c.route), std::move(c.args), timeout_ms,
              [batch, items = std::move(c.items)](Result<RedisValue> reply) {
                Result<RedisValue> r = std::move(reply);  // error replies are Errors
                if (!r.ok()) {
                  if (!batch->error) batch->error = r.error();
                } else {
                  for (std::size_t j = 0; j < r->elements.size() && j < items.size(); ++j) {
                    batch->out[items[j]] = std::move(r->elements[j]);
                  }
                }
                if (--batch->waiting > 0) return;
                if (batch->error) return batch->done(*batch->error);
                batch->done(std::move(batch->out));
              });
  }
}

void ReportStore::IngestSignals(const Config& config, const std::vector<Signal>& signals,
                                const std::string& source,
                                std::function<void(Result<std::vector<SignalOutcome>>)> callback) {
  if (cluster_) {
    for (const Signal& s : signals) {
      if (IsRateKind(s.kind)) {
        return IngestRatedOnCluster(config, signals, source, std::move(callback));
      }
    }
  }
  JudgeSignals(config, signals, std::vector<std::string>(signals.size()), source,
               std::move(callback));
}

void ReportStore::JudgeSignals(const Config& config, std::vector<Signal> signals,
                               std::vector<std::string> account_rates, const std::string& source,
                               std::function<void(Result<std::vector<SignalOutcome>>)> callback) {
  if (signals.empty()) return callback(std::vector<SignalOutcome>{});
  std::vector<std::string_view> tags;
  for (const Signal& s : signals) tags.push_back(s.tag);
  std::vector<SlotGroup> groups = GroupBySubjectSlot(tags, cluster_ != nullptr);
  AbuseSpecs specs = AbuseSpec(config);
  const std::string& prefix = config.redis.key_prefix;
  std::vector<BatchCall> calls;
  for (SlotGroup& g : groups) {
    BatchCall c;
    c.args = {prefix, "0", specs.escalation, specs.score, std::to_string(config.report.ttl_ms),
              source, specs.rates, g.home};
    for (std::size_t i : g.items) {
      const Signal& s = signals[i];
      // On a cluster a block's report is written in the subject's slot.
      std::string report = cluster_ ? NewReportId(s.tag) : NewReportId();
      c.args.insert(c.args.end(), {s.tag, s.kind, s.evidence, std::move(report), s.feedback_id,
                                   std::move(account_rates[i])});
    }
    // Routed by the group's first subject.
    c.route = BuildKey(prefix, "signals", signals[g.items[0]].tag);
    c.items = std::move(g.items);
    calls.push_back(std::move(c));
  }
  // A batch of 1,000 is one script call on one Redis; give it more than one request's time.
  RunBatch("signal", std::move(calls), signals.size(), config.server.request_timeout_ms * 5,
           [callback = std::move(callback)](Result<std::vector<RedisValue>> replies) {
             if (!replies.ok()) return callback(replies.error());
             std::vector<SignalOutcome> out(replies->size());
             for (std::size_t i = 0; i < out.size(); ++i) {
               const RedisValue& e = (*replies)[i];
               if (e.elements.size() != 4) continue;
               out[i] = {e.elements[0].AsString(), e.elements[1].AsString(),
                         e.elements[2].AsString(), e.elements[3].AsString()};
             }
             callback(std::move(out));
           });
}

void ReportStore::IngestRatedOnCluster(
    const Config& config, std::vector<Signal> signals, const std::string& source,
    std::function<void(Result<std::vector<SignalOutcome>>)> callback) {
  // Step 1, in each subject slot: is a complaint's or bounce's feedback id new, and whose
  // account is the user's?
  std::vector<std::size_t> rated;
  std::vector<std::string_view> tags;
  for (std::size_t i = 0; i < signals.size(); ++i) {
    if (!IsRateKind(signals[i].kind)) continue;
    rated.push_back(i);
    tags.push_back(signals[i].tag);
  }
  const std::string& prefix = config.redis.key_prefix;
  std::string rates = AbuseSpec(config).rates;
  std::vector<BatchCall> calls;
  for (SlotGroup& g : GroupBySubjectSlot(tags, true)) {
    BatchCall c;
    c.args = {prefix, "0", rates};
    for (std::size_t j : g.items) {
      const Signal& s = signals[rated[j]];
      c.args.insert(c.args.end(), {s.tag, s.feedback_id});
      c.items.push_back(rated[j]);
    }
    c.route = BuildKey(prefix, "signals", signals[c.items[0]].tag);
    calls.push_back(std::move(c));
  }
  auto snapshot = std::make_shared<const Config>(config);  // used again by the next steps
  auto state = std::make_shared<std::vector<Signal>>(std::move(signals));
  uint64_t timeout = config.server.request_timeout_ms * 5;
  RunBatch(
      "signal_facts", std::move(calls), state->size(), timeout,
      [this, snapshot, state, rates, source, timeout,
       callback = std::move(callback)](Result<std::vector<RedisValue>> facts) mutable {
        if (!facts.ok()) return callback(facts.error());
        // Step 2, in each account slot: count the new ones in their accounts.
        std::vector<bool> duplicate(state->size());
        std::vector<std::size_t> counted;
        std::vector<std::string> accounts;
        for (std::size_t i = 0; i < state->size(); ++i) {
          const RedisValue& f = (*facts)[i];
          if (f.elements.size() != 2) continue;  // not a complaint or bounce
          duplicate[i] = f.elements[0].AsString() == "duplicate";
          std::string account = f.elements[1].AsString();
          if (duplicate[i] || !IsValidAccountName(account)) continue;
          counted.push_back(i);
          accounts.push_back("account:" + account);
        }
        std::vector<std::string_view> account_tags(accounts.begin(), accounts.end());
        const std::string& prefix = snapshot->redis.key_prefix;
        std::vector<BatchCall> calls;
        for (SlotGroup& g : GroupBySubjectSlot(account_tags, true)) {
          BatchCall c;
          c.route = prefix + "rated_accounts:{" + g.home + "}";
          c.args = {prefix, "0", rates, g.home};
          for (std::size_t j : g.items) {
            std::size_t i = counted[j];
            c.args.insert(c.args.end(), {accounts[j].substr(8), (*state)[i].kind});
            c.items.push_back(i);
          }
          calls.push_back(std::move(c));
        }
        RunBatch(
            "account_signal", std::move(calls), state->size(), timeout,
            [this, snapshot, state, duplicate = std::move(duplicate), source,
             callback = std::move(callback)](Result<std::vector<RedisValue>> texts) mutable {
              if (!texts.ok()) return callback(texts.error());
              // Step 3: signal.lua judges the subjects, the duplicates left out (their
              // outcome is known: one Redis answers them so without writing).
              std::vector<Signal> judged;
              std::vector<std::string> account_rates;
              std::vector<std::size_t> index;
              for (std::size_t i = 0; i < state->size(); ++i) {
                if (duplicate[i]) continue;
                judged.push_back(std::move((*state)[i]));
                account_rates.push_back((*texts)[i].AsString());
                index.push_back(i);
              }
              std::size_t n = state->size();
              JudgeSignals(*snapshot, std::move(judged), std::move(account_rates), source,
                           [n, duplicate, index, callback = std::move(callback)](
                               Result<std::vector<SignalOutcome>> judged) {
                             if (!judged.ok()) return callback(judged.error());
                             std::vector<SignalOutcome> out(n);
                             for (std::size_t i = 0; i < n; ++i) {
                               if (duplicate[i]) out[i] = {"0", "", "", "duplicate"};
                             }
                             for (std::size_t j = 0; j < index.size(); ++j) {
                               out[index[j]] = std::move((*judged)[j]);
                             }
                             callback(std::move(out));
                           });
            });
      });
}

void ReportStore::RatedSet(const Config& config, const std::string& home, uint64_t timeout_ms,
                           std::function<void(Result<std::vector<RatedAccount>>)> callback) {
  const std::string& prefix = config.redis.key_prefix;
  std::string set = home.empty() ? prefix + "rated_accounts" : prefix + "rated_accounts:{" +
                                                                   home + "}";
  RunScript("account_rates", std::move(set),
            {prefix, "0", AbuseSpec(config).rates, std::to_string(kMaxRatedAccounts), home},
            timeout_ms, [callback = std::move(callback)](Result<RedisValue> reply) {
              Result<RedisValue> r = std::move(reply);  // error replies are Errors
              if (!r.ok()) return callback(r.error());
              std::vector<RatedAccount> rows;
              for (const RedisValue& e : r->elements) {
                if (e.elements.size() != 5) continue;
                auto count = [&](int i) {
                  return static_cast<uint64_t>(std::max<int64_t>(0, e.elements[i].AsInt()));
                };
                rows.push_back({{e.elements[0].AsString(), count(1), count(2), count(3)},
                                count(4)});
              }
              callback(std::move(rows));
            });
}

void ReportStore::AccountRates(
    const Config& config, uint64_t timeout_ms,
    std::function<void(Result<std::vector<AccountRateRow>>)> callback) {
  auto merged = [callback](Result<std::vector<std::vector<RatedAccount>>> slots) {
    if (!slots.ok()) return callback(slots.error());
    callback(MergeRatedAccounts(std::move(*slots), kMaxRatedAccounts));
  };
  if (!cluster_) {
    return RatedSet(config, "", timeout_ms, [merged](Result<std::vector<RatedAccount>> rows) {
      if (!rows.ok()) return merged(rows.error());
      merged(std::vector<std::vector<RatedAccount>>{std::move(*rows)});
    });
  }
  // Every rated set's slot-tag first (a key SCAN finds is not trusted to be ours unless it is
  // exactly PREFIXrated_accounts:{TAG}), then account_rates on each at once.
  struct Walk {
    std::set<std::string> homes;
    std::vector<std::vector<RatedAccount>> slots;
    std::size_t left = 0;
    std::optional<Error> error;
  };
  auto walk = std::make_shared<Walk>();
  auto snapshot = std::make_shared<const Config>(config);  // used again when the scan ends
  std::string head = config.redis.key_prefix + "rated_accounts:";
  ScanPrimaries(
      cluster_, GlobEscape(head) + "{*", "zset", timeout_ms,
      [walk, head](const std::string& key) {
        std::string_view home = KeySlotTag(key, head);
        if (!home.empty()) walk->homes.emplace(home);
      },
      [this, walk, snapshot, timeout_ms, merged](bool ok) {
        if (!ok) return merged(Error{ErrorCode::kInternal, "rated accounts: SCAN failed"});
        if (walk->homes.empty()) return merged(std::vector<std::vector<RatedAccount>>());
        walk->slots.resize(walk->homes.size());
        walk->left = walk->homes.size();
        std::size_t i = 0;
        for (const std::string& home : walk->homes) {
          RatedSet(*snapshot, home, timeout_ms,
                   [walk, i, merged](Result<std::vector<RatedAccount>> rows) {
                     if (rows.ok()) {
                       walk->slots[i] = std::move(*rows);
                     } else if (!walk->error) {
                       walk->error = rows.error();
                     }
                     if (--walk->left > 0) return;
                     if (walk->error) return merged(*walk->error);
                     merged(std::move(walk->slots));
                   });
          ++i;
        }
      });
}

void ReportStore::Ping(uint64_t timeout_ms, std::function<void(bool)> callback) {
  if (cluster_) return callback(cluster_->ready());
  client_->Command({"PING"}, timeout_ms, [callback = std::move(callback)](Result<RedisValue> r) {
    callback(r.ok() && !r->IsError());
  });
}

}  // namespace policyd
