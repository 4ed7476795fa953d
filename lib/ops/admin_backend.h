// Where an admin operation's Redis calls go (issue 17): one Redis (RedisClient + ScriptRunner)
// or a Redis Cluster (ClusterClient + ClusterScriptRunner), whichever the loop's ReportStore was
// opened on. policyctl (AdminSession) and the HTTP admin API both hand RunAdminCall one of
// these, so an operation runs the same way from both front ends on both backends.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "store/cluster_client.h"
#include "store/redis_client.h"
#include "store/report_store.h"

namespace policyd::ops {

class AdminBackend {
 public:
  // store must outlive the backend and every call made through it.
  explicit AdminBackend(ReportStore* store) : store_(store) {}

  bool cluster() const { return store_->cluster() != nullptr; }

  // A plain command on one Redis, or on the primary of route_key's slot ("" = argv[1], the
  // command's key).
  void Command(const std::string& route_key, std::vector<std::string> argv, uint64_t timeout_ms,
               RedisClient::Callback callback);
  // An embedded script with these ARGV; on a cluster in route_key's slot (every key it
  // touches must share that slot). REQUIRES on a cluster: route_key not empty.
  void Script(std::string_view name, const std::string& route_key, std::vector<std::string> args,
              uint64_t timeout_ms, RedisClient::Callback callback);

  ReportStore& reports() { return *store_; }
  // The cluster's router, for what runs on every primary (SCAN); nullptr on one Redis.
  ClusterClient* cluster_client() { return store_->cluster(); }

 private:
  ReportStore* store_;
};

}  // namespace policyd::ops
