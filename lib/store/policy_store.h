// Where decisions meet Redis: one decide.lua call per request (DESIGN §3), its reply turned
// into a Verdict. The only code that sends the decision script.
// With the loop's access cache (issue 16): a request whose (subject, sender tag, domain, and
// the client address for users with an IP allow-list) the cache knows to pass blocks, user,
// IP allow-list and ACL takes decide's fast path (the windows only); a miss takes the full
// path at once and, pipelined behind it, one access_facts call fills the cache (so a miss
// costs no extra round trip). Explain mode always takes the full path.
// A RCPT pre-check (count_at = "eom") that the access cache passes, with no quota, is answered
// without a script (lib/core/rcpt_precheck.h): one EXISTS of the block keys and one HMGET of
// window totals per subject, pipelined on the decision connection; decide.lua runs only when
// they do not show room (a block key, a full window, an error reply).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <unordered_set>

#include "core/config.h"
#include "core/decide_args.h"
#include "core/decision_fields.h"
#include "core/policy_request.h"
#include "core/rcpt_precheck.h"
#include "core/result.h"
#include "core/verdict.h"
#include "store/local_refusals.h"
#include "store/redis_client.h"
#include "store/script_runner.h"

namespace policyd {

class PolicyStore {
 public:
  using Callback = std::function<void(Result<Verdict>)>;

  explicit PolicyStore(RedisClient* client) : client_(client), scripts_(client) {}

  // Decides one request under config (a snapshot the caller keeps alive until callback).
  // callback runs exactly once, possibly before Decide returns (Redis not connected).
  // Errors: kUnavailable, kTimeout (after [server] request_timeout), kInternal (script error).
  // options: explain mode (no writes, facts in Verdict::facts) and an injected clock.
  void Decide(std::shared_ptr<const Config> config, const PolicyRequest& request,
              Callback callback, DecideOptions options = {});

  ScriptRunner& scripts() { return scripts_; }
  // The loop's caches (access cache for the fast path); null (policyctl): always the full path.
  void set_caches(LocalRefusals* caches) { caches_ = caches; }

 private:
  // Runs decide.lua with args and hands its verdict (for user) to callback.
  void RunDecide(std::vector<std::string> args, std::string user, uint64_t timeout_ms,
                 Callback callback);
  // What decide.lua's ARGV are built from if the pre-check's reads show no room (the
  // decision can outlive its request).
  struct DeferredDecide {
    std::shared_ptr<const Config> config;
    OwnedDecisionFields fields;
    DecideSubjects subjects;
    DecideOptions options;
    std::vector<std::string> fast_path_args;  // AppendFastPathArgs of the cached pass
  };
  // The pre-check's reads; decide.lua (on the fast path) when they show no room.
  void Precheck(RcptPrecheck precheck, DeferredDecide deferred,
                std::string user, uint64_t timeout_ms, Callback callback);
  // Asks access_facts for a request's facts (decide's ARGV 1-31 in args): kept under any_key,
  // or for a user with an IP allow-list under client_key with a marker under any_key.
  // filling: the key looked up (in filling_ while the call is in flight).
  void Fill(std::string filling, std::string any_key, std::string client_key,
            std::vector<std::string> args, uint64_t timeout_ms);

  RedisClient* client_;
  ScriptRunner scripts_;
  DecideSpecsCache specs_;
  // A burst of misses (a cold start, many new users at once) costs Redis a full decision each
  // and at most this many access_facts calls at a time; later requests fill what is left.
  static constexpr std::size_t kMaxFillsInFlight = 16;
  LocalRefusals* caches_ = nullptr;
  std::unordered_set<std::string> filling_;  // access keys with an access_facts call in flight
};

}  // namespace policyd
