#include "ops/admin_backend.h"

#include "core/cluster_slot.h"
#include "store/cluster_script_runner.h"
#include "store/script_runner.h"

namespace policyd::ops {

void AdminBackend::Command(const std::string& route_key, std::vector<std::string> argv,
                           uint64_t timeout_ms, RedisClient::Callback callback) {
  ClusterClient* cluster = store_->cluster();
  if (!cluster) return store_->client().Command(std::move(argv), timeout_ms, std::move(callback));
  const std::string& key = route_key.empty() && argv.size() > 1 ? argv[1] : route_key;
  if (key.empty()) return callback(Error{ErrorCode::kInternal, "admin command without a key"});
  uint16_t slot = KeySlot(key);  // before argv moves: key may be argv[1]
  cluster->Command(slot, std::move(argv), timeout_ms, std::move(callback));
}

void AdminBackend::Script(std::string_view name, const std::string& route_key,
                          std::vector<std::string> args, uint64_t timeout_ms,
                          RedisClient::Callback callback) {
  ClusterScriptRunner* scripts = store_->cluster_scripts();
  if (!scripts) {
    return store_->scripts().Run(name, std::move(args), timeout_ms, std::move(callback));
  }
  if (route_key.empty()) return callback(Error{ErrorCode::kInternal, "admin script without a key"});
  scripts->Run(name, route_key, std::move(args), timeout_ms, std::move(callback));
}

}  // namespace policyd::ops
