// SCAN over every primary of a Redis Cluster (issue 17): what a cluster keeps per slot
// (outboxes PREFIXevents:{TAG}, expiry indexes PREFIXblock_expiries:{TAG}) is found by
// walking each primary's keyspace with SCAN MATCH ... TYPE ..., never KEYS, so a walk costs
// each primary about COUNT keys' worth of work per call.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <string_view>

#include "store/cluster_client.h"

namespace policyd {

// Walks every primary of the cluster's current map with SCAN cursor MATCH pattern COUNT 1000
// TYPE type, the primaries at once, calling on_key for each key found (a key may come twice,
// as SCAN allows). done(ok) runs once every walk has ended; ok is false when a SCAN failed
// (that primary's walk stops there) or there was no map. Callbacks run on the cluster
// client's loop; the cluster client must outlive the walk (its Stop ends it with errors).
void ScanPrimaries(ClusterClient* cluster, std::string pattern, std::string type,
                   uint64_t timeout_ms, std::function<void(const std::string& key)> on_key,
                   std::function<void(bool ok)> done);

}  // namespace policyd
