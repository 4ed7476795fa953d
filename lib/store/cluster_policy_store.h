// Where decisions meet a Redis Cluster (issue 17): PolicyStore's Decide when a request's
// subjects (user, sender, account, client IP) live in different slots, so that no one script
// can decide it. The access facts are read slot by slot (ClusterAccess) or come from the
// loop's access cache; each subject's windows are checked and counted in its own slot with a
// reservation that is refunded when another subject refuses (ClusterDecision); what belongs
// to the user (reports, throttles and their escalation, list-bombing, the answer a repeat
// gets) is written in the user's slot.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>

#include "core/config.h"
#include "core/decide_args.h"
#include "core/policy_request.h"
#include "core/result.h"
#include "core/verdict.h"
#include "store/cluster_client.h"
#include "store/cluster_script_runner.h"
#include "store/local_refusals.h"

namespace policyd {

class ClusterPolicyStore {
 public:
  using Callback = std::function<void(Result<Verdict>)>;

  // All must outlive the store and every call in flight.
  ClusterPolicyStore(uv_loop_t* loop, ClusterClient* cluster, ClusterScriptRunner* scripts)
      : loop_(loop), cluster_(cluster), scripts_(scripts) {}
  ClusterPolicyStore(const ClusterPolicyStore&) = delete;
  ClusterPolicyStore& operator=(const ClusterPolicyStore&) = delete;

  // As PolicyStore::Decide: callback runs exactly once, possibly before Decide returns.
  void Decide(std::shared_ptr<const Config> config, const PolicyRequest& request,
              Callback callback, DecideOptions options = {});

  ClusterScriptRunner& scripts() { return *scripts_; }
  // The loop's caches (access cache); null: always read the access facts.
  void set_caches(LocalRefusals* caches) { caches_ = caches; }

 private:
  uv_loop_t* loop_;
  ClusterClient* cluster_;
  ClusterScriptRunner* scripts_;
  LocalRefusals* caches_ = nullptr;
};

}  // namespace policyd
