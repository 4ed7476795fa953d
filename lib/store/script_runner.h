// Runs the embedded Lua scripts (lib/store/lua/*.lua) as functions of one Redis 7 function
// library (FCALL): the preludes are defined once when the library loads, not on every call,
// and the parsed-config caches of _common.lua live as long as the library. Library and
// function names carry a digest of the library text ('policyd_<v>', 'decide_<v>'), so
// instances of different versions sharing a Redis never call each other's code. When Redis
// answers that the function does not exist (it restarted without persistence, FUNCTION
// FLUSH, a new Redis after failover) the runner loads the library and calls again, as
// EVALSHA falls back to EVAL. All keys are built inside the scripts from escaped tags
// (numkeys 0): the account keys of a decision are only known once the user's record is read.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/redis_client.h"

namespace policyd {

struct Script {
  std::string name;  // file stem: "decide"
  std::string body;      // preludes + the file: a script EVAL can run on its own
  std::string source;    // the file alone: its function body in the library
  std::string sha1;      // of body, lowercase hex, as SCRIPT LOAD returns it
  std::string function;  // its name in the library: "decide_<version>"
  bool read_only = false;  // first line "-- flags: no-writes": registered so, run by FCALL_RO
};

// The function library: 'policyd_<version>', the preludes at library level, then each script
// registered as a function(KEYS, ARGV) named Script::function.
struct FunctionLibrary {
  std::string name;
  std::string code;  // FUNCTION LOAD's argument
};
const FunctionLibrary& Library();

// All embedded scripts; nullptr for an unknown name (a programming error at the call site).
const Script* FindScript(std::string_view name);
const std::vector<Script>& AllScripts();

// The command that calls script `name` (FCALL, or FCALL_RO for a read-only one) with `keys`
// declared and `args` as ARGV. REQUIRES: FindScript(name) != nullptr.
std::vector<std::string> FcallArgv(std::string_view name, std::vector<std::string> keys,
                                   std::vector<std::string> args);

// Redis's answer to an FCALL of a function its library does not have (yet).
bool IsFunctionMissing(const Result<RedisValue>& r);

// The one place a Redis error reply becomes an Error.
Result<RedisValue> ErrorReplyAsError(Result<RedisValue> r);

class ScriptRunner {
 public:
  explicit ScriptRunner(RedisClient* client) : client_(client) {}

  // FUNCTION LOAD the library; errors are logged (Run loads it again when needed).
  void LoadAll(uint64_t timeout_ms);

  // Callback gets the script's reply. A Redis error reply (a script error, OOM, READONLY) is
  // turned into an Error here, so callers see only replies the script returned.
  void Run(std::string_view name, std::vector<std::string> args, uint64_t timeout_ms,
           RedisClient::Callback callback);

 private:
  RedisClient* client_;
};

}  // namespace policyd
