// Runs the embedded Lua scripts (lib/store/lua/*.lua) by SHA: EVALSHA first, and when Redis
// answers NOSCRIPT (it restarted, or SCRIPT FLUSH) the same call as EVAL, which also caches
// the script again. SCRIPT LOAD of every script when the connection becomes ready makes the
// NOSCRIPT path rare. All keys are built inside the scripts from escaped tags (numkeys 0):
// the account keys of a decision are only known once the user's record is read.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "store/redis_client.h"

namespace policyd {

struct Script {
  std::string name;  // file stem: "decide"
  std::string body;  // preludes + the file
  std::string sha1;  // lowercase hex, as SCRIPT LOAD returns it
};

// All embedded scripts; nullptr for an unknown name (a programming error at the call site).
const Script* FindScript(std::string_view name);
const std::vector<Script>& AllScripts();

class ScriptRunner {
 public:
  explicit ScriptRunner(RedisClient* client) : client_(client) {}

  // SCRIPT LOAD every script; errors are logged (EVAL fallback still works).
  void LoadAll(uint64_t timeout_ms);

  // Callback gets the script's reply as Redis sent it: a Redis error reply (a script error)
  // arrives as an ok Result holding a RedisValue of Type::kError, which the caller turns into
  // its own Error; only no connection or the deadline arrive as an Error.
  void Run(std::string_view name, std::vector<std::string> args, uint64_t timeout_ms,
           RedisClient::Callback callback);

 private:
  RedisClient* client_;
};

}  // namespace policyd
