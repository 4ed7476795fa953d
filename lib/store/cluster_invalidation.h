// Client-side caching on a Redis Cluster (issue 17): BCAST tracking is per node, each primary
// announcing writes to its own keys only, so the cache is truthful only while every primary
// of the current map is heard. This keeps one InvalidationListener per primary of a
// ClusterClient's map, all tracking the same prefixes, and follows the map: after a failover
// the promoted replica is a new primary, after resharding a node may gain its first slots or
// lose its last ones.
//
// on_change has InvalidationListener's contract, for the whole cluster: the keys of every
// invalidation any primary announces; nullptr (forget everything) on a FLUSHALL/FLUSHDB of
// any primary, whenever any listener changes readiness, and whenever the set of primaries
// changes. ready() only while every current primary's listener is ready.
#pragma once

#include <uv.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "store/cluster_client.h"
#include "store/invalidation_listener.h"

namespace policyd {

class ClusterInvalidation {
 public:
  // cluster and loop must outlive this; it takes cluster's map listener (SetMapListener).
  ClusterInvalidation(uv_loop_t* loop, ClusterClient* cluster, std::vector<std::string> prefixes,
                      RedisClientOptions options,
                      std::function<void(const InvalidationListener::Keys* keys)> on_change);
  ~ClusterInvalidation();  // REQUIRES: Stop() called and its done callback ran
  ClusterInvalidation(const ClusterInvalidation&) = delete;
  ClusterInvalidation& operator=(const ClusterInvalidation&) = delete;

  // Follows the primaries of the map the client has now, and of every later map.
  void Start();
  // Stops every listener; done runs once all are closed.
  void Stop(std::function<void()> done);

  bool ready() const;
  size_t listeners() const { return listeners_.size(); }  // one per current primary
  uint64_t invalidations() const;                         // messages heard, current primaries

 private:
  void FollowPrimaries();  // on every map the client reads
  void Retire(std::unique_ptr<InvalidationListener> listener);
  void OnStopped(InvalidationListener* listener);

  uv_loop_t* loop_;
  ClusterClient* cluster_;
  std::vector<std::string> prefixes_;
  RedisClientOptions options_;
  std::function<void(const InvalidationListener::Keys*)> on_change_;
  std::vector<std::unique_ptr<InvalidationListener>> listeners_;  // current primaries
  std::vector<std::unique_ptr<InvalidationListener>> retiring_;   // Stop() until done
  bool stopping_ = false;
  std::function<void()> stop_done_;
};

}  // namespace policyd
