// One admin operation, shared by both front ends (issue 19): policyctl's verbs and the HTTP
// admin API (/api/v1/admin/...) run the same code for the same operation.
//
// An operation has three steps, and only the middle one touches Redis:
//   1. validate: a pure function from the operation's JSON input (the API's body with the
//      path's parameters, or what policyctl builds from its arguments) to an AdminCall, or
//      an Error naming the field (kInvalid/kTooLarge: HTTP 400, policyctl exit 2);
//   2. one Redis call: a script of lib/store/lua/ for every write, so each write is atomic
//      (and emits its events in the same call), or one plain command for a read;
//   3. a pure function from the reply to the JSON result, or kNotFound (404) / kConflict
//      (409) when the script says so.
// policyctl runs step 2 synchronously (AdminSession::Run), policyd's HTTP face on its loop's
// client (RunAdminCall).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "store/redis_client.h"
#include "store/redis_value.h"
#include "store/script_runner.h"

namespace policyd::ops {

struct AdminCall {
  std::string script;              // an embedded script's name, or "" for a plain command
  std::vector<std::string> argv;   // the script's ARGV, or the command
  std::function<Result<nlohmann::json>(const RedisValue&)> result;  // step 3, pure
};

// Step 2 on an event loop: done gets step 3's outcome (or the Redis error).
void RunAdminCall(RedisClient& client, ScriptRunner& scripts, AdminCall call,
                  uint64_t timeout_ms, std::function<void(Result<nlohmann::json>)> done);

// The reply of a write script: { 'ok', ... } goes to ok(reply); { 'notfound', text } and
// { 'conflict', text } become kNotFound and kConflict with that text, { 'invalid', field,
// text } kInvalid "field: text" (what only Redis knows, e.g. a user that does not exist yet).
Result<nlohmann::json> ScriptOutcome(
    const RedisValue& reply, const std::function<Result<nlohmann::json>(const RedisValue&)>& ok);

}  // namespace policyd::ops
