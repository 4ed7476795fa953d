#include "store/policy_store.h"

#include <chrono>

#include "core/access_cache.h"
#include "core/decide_args.h"
#include "core/decision_fields.h"
#include "core/report_token.h"

namespace policyd {

void PolicyStore::Decide(std::shared_ptr<const Config> config, const PolicyRequest& request,
                         Callback callback, DecideOptions options) {
  if (std::optional<Verdict> local = DecideLocally(request, *config)) {
    local->user = request.SaslUsername();
    return callback(std::move(*local));
  }
  const DecisionFields fields = ReadDecisionFields(request);  // one pass over the attributes
  DecideSubjects subjects = ReadDecideSubjects(fields);
  uint64_t timeout = config->server.request_timeout_ms;
  std::string fill_key, any_key, client_key;
  const AccessFacts* pass = nullptr;  // the access cache's plain pass: decide's fast path
  if (caches_ != nullptr && options.mode == DecideMode::kDecide &&
      caches_->AccessUsable(*config)) {
    // Most users' facts hold for every client address: one entry however many addresses
    // they send from; a user with an IP allow-list has a marker there and entries per address.
    any_key = AccessKey(subjects.subject, subjects.sender_tag, subjects.domain, kAnyClient);
    client_key =
        AccessKey(subjects.subject, subjects.sender_tag, subjects.domain, subjects.client_hex);
    const std::string* key = &any_key;
    const AccessFacts* facts = caches_->access().Find(any_key);
    if (facts != nullptr && facts->per_client) {
      key = &client_key;
      facts = caches_->access().Find(client_key);
    }
    if (facts != nullptr) {
      if (!facts->full) {
        ++caches_->mutable_counters().access_hits;
        pass = facts;
        // Answered by plain reads most of the time: decide.lua's ARGV (and a report id) are
        // built only if the reads show no room.
        if (std::optional<RcptPrecheck> precheck =
                PlanRcptPrecheck(*facts, subjects, *config, options.mode)) {
          DeferredDecide deferred{std::move(config), OwnedDecisionFields(fields),
                                  std::move(subjects), std::move(options), {}};
          AppendFastPathArgs(*facts, &deferred.fast_path_args);
          return Precheck(std::move(*precheck), std::move(deferred),
                          std::string(request.SaslUsername()), timeout, std::move(callback));
        }
      }
    } else if (filling_.size() < kMaxFillsInFlight && !filling_.count(*key)) {
      fill_key = *key;
    }
  }
  options.report_id = NewReportId();
  const DecideSpecsCache::Specs& specs = specs_.For(config);
  std::vector<std::string> args =
      BuildDecideArgs(fields, std::move(subjects), *config, options, specs.plans, specs.abuse);
  if (pass != nullptr) AppendFastPathArgs(*pass, &args);
  std::vector<std::string> fill_args;
  if (!fill_key.empty()) fill_args.assign(args.begin(), args.begin() + 31);  // ARGV 1-31
  RunDecide(std::move(args), std::string(request.SaslUsername()), timeout, std::move(callback));
  // Behind the decision on the same connection: the decision's latency is unchanged.
  if (!fill_key.empty()) {
    Fill(std::move(fill_key), std::move(any_key), std::move(client_key), std::move(fill_args),
         timeout);
  }
}

void PolicyStore::RunDecide(std::vector<std::string> args, std::string user,
                            uint64_t timeout_ms, Callback callback) {
  scripts_.Run("decide", std::move(args), timeout_ms,
               [user = std::move(user), callback = std::move(callback)](Result<RedisValue> reply) {
                 if (!reply.ok()) return callback(reply.error());  // ScriptRunner: errors too
                 std::vector<std::string> fields;
                 for (const RedisValue& v : reply->elements) fields.push_back(v.AsString());
                 std::string facts;
                 Result<Verdict> verdict = ParseDecideReply(fields, &facts);
                 if (verdict.ok()) {
                   verdict->user = user;
                   verdict->facts = std::move(facts);
                 }
                 callback(std::move(verdict));
               });
}

void PolicyStore::Precheck(RcptPrecheck precheck, DeferredDecide deferred,
                           std::string user, uint64_t timeout_ms, Callback callback) {
  struct State {
    RcptPrecheck precheck;
    DeferredDecide deferred;
    std::string user;
    Callback callback;
    std::chrono::steady_clock::time_point sent = std::chrono::steady_clock::now();
    std::size_t pending = 0;
    long long blocks = -1;
    std::vector<HashFields> totals;
    std::optional<Error> error;  // a lost connection or a timeout: the script path's failure
    bool error_reply = false;    // Redis answered an error: decide.lua decides
  };
  auto st = std::make_shared<State>();
  st->precheck = std::move(precheck);
  st->deferred = std::move(deferred);
  st->user = std::move(user);
  st->callback = std::move(callback);
  st->pending = 1 + st->precheck.reads.size();
  st->totals.resize(st->precheck.reads.size());
  // Replies come in the order sent; the last one decides (each callback runs exactly once,
  // possibly before Command returns when Redis is not connected).
  auto done = [this, st, timeout_ms] {
    if (--st->pending > 0) return;
    if (st->error) return st->callback(std::move(*st->error));
    if (!st->error_reply && PrecheckHasRoom(st->precheck, st->blocks, st->totals)) {
      if (caches_ != nullptr) ++caches_->mutable_counters().rcpt_prechecks_commands;
      Verdict v = PrecheckPassVerdict(st->precheck);
      v.user = std::move(st->user);
      return st->callback(std::move(v));
    }
    if (caches_ != nullptr) ++caches_->mutable_counters().rcpt_prechecks_script;
    // What is left of request_timeout (at least 1 ms: a late answer is the connection's
    // backstop's to give).
    auto spent = std::chrono::duration_cast<std::chrono::milliseconds>(
                     std::chrono::steady_clock::now() - st->sent).count();
    uint64_t left = spent >= 0 && static_cast<uint64_t>(spent) < timeout_ms
                        ? timeout_ms - static_cast<uint64_t>(spent) : 1;
    DeferredDecide& d = st->deferred;
    d.options.report_id = NewReportId();
    const DecideSpecsCache::Specs& specs = specs_.For(d.config);
    std::vector<std::string> args = BuildDecideArgs(
        d.fields.View(), std::move(d.subjects), *d.config, d.options, specs.plans, specs.abuse);
    args.insert(args.end(), std::make_move_iterator(d.fast_path_args.begin()),
                std::make_move_iterator(d.fast_path_args.end()));
    RunDecide(std::move(args), std::move(st->user), left, std::move(st->callback));
  };
  client_->Command(st->precheck.exists, timeout_ms, [st, done](Result<RedisValue> r) {
    if (!r.ok()) {
      if (!st->error) st->error = r.error();
    } else if (r->IsError() || r->type != RedisValue::Type::kInteger) {
      st->error_reply = true;
    } else {
      st->blocks = r->integer;
    }
    done();
  });
  for (std::size_t i = 0; i < st->precheck.reads.size(); ++i) {
    client_->Command(st->precheck.reads[i], timeout_ms, [st, done, i](Result<RedisValue> r) {
      if (!r.ok()) {
        if (!st->error) st->error = r.error();
      } else if (r->type != RedisValue::Type::kArray) {
        st->error_reply = true;
      } else {
        HashFields& fields = st->totals[i];
        for (const RedisValue& v : r->elements) {
          if (v.type == RedisValue::Type::kNil) {
            fields.emplace_back();
          } else {
            fields.emplace_back(v.AsString());
          }
        }
      }
      done();
    });
  }
}

void PolicyStore::Fill(std::string filling, std::string any_key, std::string client_key,
                       std::vector<std::string> args, uint64_t timeout_ms) {
  filling_.insert(filling);
  uint64_t generation = caches_->access().generation();
  scripts_.Run("access_facts", std::move(args), timeout_ms,
               [this, filling, any_key = std::move(any_key), client_key = std::move(client_key),
                generation](Result<RedisValue> reply) {
                 filling_.erase(filling);
                 if (!reply.ok() || caches_ == nullptr) return;
                 std::vector<std::string> fields;
                 for (const RedisValue& v : reply->elements) fields.push_back(v.AsString());
                 std::optional<AccessFacts> facts = ParseAccessFacts(fields);
                 if (!facts) return;
                 AccessCache& cache = caches_->access();
                 bool stored;
                 if (facts->per_client) {
                   stored = cache.Store(any_key, AnyClientMarker(), generation) &&
                            cache.Store(client_key, std::move(*facts), generation);
                 } else {
                   stored = cache.Store(any_key, std::move(*facts), generation);
                 }
                 if (stored) ++caches_->mutable_counters().access_fills;
               });
}

}  // namespace policyd
