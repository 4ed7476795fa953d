// policyctl's connection to Redis: a private libuv loop with the same RedisClient,
// PolicyStore, ReportStore and ScriptRunner policyd uses (on [redis] cluster: its ClusterClient,
// ClusterScriptRunner and ReportStore), made synchronous for a CLI: each call runs the loop
// until its reply arrives. Connects lazily, on the first call, so a verb whose input is
// invalid never touches Redis.
#pragma once

#include <uv.h>

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/result.h"
#include "ops/admin_call.h"
#include "store/cluster_client.h"
#include "store/cluster_script_runner.h"
#include "store/policy_store.h"
#include "store/redis_client.h"
#include "store/report_store.h"

namespace policyd::admin {

class AdminSession {
 public:
  // config: as loaded from the file; calls get at least kMinCallTimeoutMs each.
  explicit AdminSession(const Config& config);
  ~AdminSession();
  AdminSession(const AdminSession&) = delete;
  AdminSession& operator=(const AdminSession&) = delete;

  static constexpr uint64_t kMinCallTimeoutMs = 5000;

  // The config calls run under (request_timeout raised to kMinCallTimeoutMs).
  const Config& config() const { return *config_; }

  // One command (on a cluster: on the primary of its key, argv[1]). Errors: kUnavailable
  // (Redis unreachable), kTimeout, kInternal (a Redis error reply, e.g. WRONGTYPE; its text
  // is the message).
  Result<RedisValue> Command(std::vector<std::string> argv);

  // An admin operation's Redis call (lib/ops), the same call the HTTP admin API makes.
  Result<nlohmann::json> Run(ops::AdminCall call);

  Result<std::optional<Report>> GetReport(const std::string& id);
  Result<std::vector<SignalOutcome>> IngestSignal(const Signal& signal);
  // A batch in one script call, recorded with `source` (policyd-feedback: "feedback").
  Result<std::vector<SignalOutcome>> IngestSignals(const std::vector<Signal>& signals,
                                                   const std::string& source);

 private:
  Status Connect();
  Status OpenRedis();    // one Redis: client_, store_, reports_
  Status OpenCluster();  // [redis] cluster: cluster_, cluster_scripts_, reports_
  bool ready() const;
  template <typename T, typename Start>
  Result<T> Wait(Start start);

  std::shared_ptr<const Config> config_;
  uv_loop_t loop_;
  std::unique_ptr<RedisClient> client_;
  std::unique_ptr<PolicyStore> store_;
  std::unique_ptr<ClusterClient> cluster_;
  std::unique_ptr<ClusterScriptRunner> cluster_scripts_;
  std::unique_ptr<ReportStore> reports_;
  std::optional<Status> connected_;  // the outcome of the one connection attempt
};

}  // namespace policyd::admin
