// The function library on a Redis Cluster (issue 17): ScriptRunner's FCALL, sent through a
// ClusterClient to the primary of the call's slot. Each primary holds its own copy of the
// library (replicas get it by replication). A call answered "function not found" (a new
// primary, a FUNCTION FLUSH, a restart without persistence) loads the library on every
// primary of the map (the answer may have come from the node an ASK named) and is called
// again, once, as ScriptRunner does for one Redis: no restart of policyd is needed.
//
// The call names its route key as the FCALL's first key: Redis checks a declared key
// against its slots, so a call that reaches the wrong node gets MOVED or ASK (which the
// ClusterClient follows) instead of the script failing on a "non local key". The scripts build
// their keys from ARGV and ignore KEYS; every key a call touches must share the route key's
// slot.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "store/cluster_client.h"
#include "store/script_runner.h"

namespace policyd {

class ClusterScriptRunner {
 public:
  explicit ClusterScriptRunner(ClusterClient* cluster) : cluster_(cluster) {}

  // FUNCTION LOAD on every primary of the current map; errors are logged (Run loads it
  // again where needed).
  void LoadAll(uint64_t timeout_ms);

  // route_key: a key the call touches ("pd:user:{user:alice}"); its slot picks the primary.
  // The callback gets the script's reply; error replies become Errors, as ScriptRunner's do.
  void Run(std::string_view name, std::string route_key, std::vector<std::string> args,
           uint64_t timeout_ms, RedisClient::Callback callback);
  // keys: every key the call touches, declared (numkeys keys.size()), the route key first;
  // they must share its slot. Redis then answers TRYAGAIN, which the ClusterClient retries,
  // while a migration has moved only some of them.
  void Run(std::string_view name, std::vector<std::string> keys, std::vector<std::string> args,
           uint64_t timeout_ms, RedisClient::Callback callback);

  // A function that declares no keys (access_eval.lua: it reads only its ARGV) may run on
  // any primary: sent to the one serving `slot` (a slot the caller just used, so the
  // connection is up), with FCALL_RO when the script writes nothing.
  void RunKeyless(std::string_view name, uint16_t slot, std::vector<std::string> args,
                  uint64_t timeout_ms, RedisClient::Callback callback);

  // Loads of the library on every primary after "function not found"; calls that find it
  // missing while a load is in flight wait for that one.
  uint64_t reloads() const { return reloads_; }

 private:
  // Loads the library on every ready primary (one load at a time), then runs `then` and every
  // retry that queued meanwhile.
  // Sends argv (an FCALL) to slot's primary; "function not found" loads the library on every
  // primary and sends it again, once.
  void Send(uint16_t slot, std::vector<std::string> argv, uint64_t timeout_ms,
            RedisClient::Callback callback);
  void ReloadThen(uint16_t slot, uint64_t timeout_ms, std::function<void()> then);

  ClusterClient* cluster_;
  uint64_t reloads_ = 0;
  bool loading_ = false;
  std::vector<std::function<void()>> waiting_;
};

}  // namespace policyd
