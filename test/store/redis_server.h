// Test fixtures with real processes: a redis-server on a free loopback port (persistence off)
// and a synchronous hiredis connection to it for set-up and inspection, plus a PolicyStore on
// a private libuv loop whose decisions run to completion synchronously with an injected clock.
#pragma once

#include <hiredis/hiredis.h>
#include <sys/types.h>
#include <uv.h>

#include <memory>
#include <string>
#include <vector>

#include "core/config.h"
#include "core/policy_request.h"
#include "core/verdict.h"
#include "store/policy_store.h"
#include "store/redis_client.h"

namespace policyd::test {

class RedisServer {
 public:
  // Starts it; aborts the test binary if it cannot. cluster_enabled: a Redis Cluster node
  // (no slots yet; the test meets the nodes and assigns slots); node_timeout_ms: its
  // --cluster-node-timeout (0: Redis's 15 s), how soon a dead primary's replica takes over.
  explicit RedisServer(bool cluster_enabled = false, int node_timeout_ms = 0);
  ~RedisServer();
  int port() const { return port_; }

  // One command; the reply flattened to strings (integers as decimal, nil as "(nil)").
  std::vector<std::string> Cmd(const std::vector<std::string>& argv);
  std::string CmdOne(const std::vector<std::string>& argv);  // first element or ""
  std::vector<std::string> Keys();                            // sorted
  void FlushAll() { Cmd({"FLUSHALL"}); }
  void Kill();  // SIGKILL now (a crashed node); the destructor then only cleans up

 private:
  pid_t pid_ = -1;
  int port_ = 0;
  std::string dir_;
  redisContext* ctx_ = nullptr;
};

// A Config good for tests: report secret set, no plans but "default" (add your own).
Config TestConfig();

// Builds a request from name=value pairs, request=smtpd_access_policy first.
PolicyRequest MakeRequest(const std::vector<std::pair<std::string, std::string>>& attrs);

class StoreHarness {
 public:
  StoreHarness(int redis_port, Config config);
  ~StoreHarness();
  Verdict Decide(const PolicyRequest& request, uint64_t now_ms, bool explain = false);
  Result<Verdict> TryDecide(const PolicyRequest& request, uint64_t now_ms, bool explain = false,
                            std::vector<std::string_view> recipients = {});
  // END-OF-MESSAGE with the recipients policyd collected at RCPT (DecideOptions::recipients).
  Verdict DecideWithRecipients(const PolicyRequest& request, uint64_t now_ms,
                               std::vector<std::string_view> recipients);
  std::string Reply(const PolicyRequest& request, uint64_t now_ms);  // FormatVerdict text
  Config& config() { return *config_; }
  void SetConfig(Config c) { config_ = std::make_shared<Config>(std::move(c)); }

 private:
  uv_loop_t loop_;
  std::unique_ptr<RedisClient> client_;
  std::unique_ptr<PolicyStore> store_;
  std::shared_ptr<Config> config_;
};

}  // namespace policyd::test
