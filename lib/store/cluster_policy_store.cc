#include "store/cluster_policy_store.h"

namespace policyd {

void ClusterPolicyStore::Decide(std::shared_ptr<const Config> /*config*/,
                                const PolicyRequest& /*request*/, Callback callback,
                                DecideOptions /*options*/) {
  // Filled in by the cluster decision (issue 17).
  (void)loop_;
  (void)cluster_;
  callback(Error{ErrorCode::kUnavailable, "decisions on Redis Cluster are not built yet"});
}

}  // namespace policyd
