// One admin operation, shared by both front ends (issue 19): policyctl's verbs and the HTTP
// admin API (/api/v1/admin/...) run the same code for the same operation.
//
// An operation has three steps, and only the middle one touches Redis:
//   1. validate: a pure function from the operation's JSON input (the API's body with the
//      path's parameters, or what policyctl builds from its arguments) to an AdminCall, or
//      an Error naming the field (kInvalid/kTooLarge: HTTP 400, policyctl exit 2);
//   2. one Redis call: a script of lib/store/lua/ for every write, so each write is atomic
//      (and emits its events in the same call), or one plain command for a read. On a Redis
//      Cluster (issue 17) the call runs in the slot of its route key, and an operation whose
//      keys live in two slots (a user and its account) is a chain: a read in one slot whose
//      reply makes the next call (`then`), the write last, re-checking in its own slot what
//      it can. What is not one call at all (a list over every primary) runs itself (`run`);
//   3. a pure function from the reply to the JSON result, or kNotFound (404) / kConflict
//      (409) when the script says so.
// Step 1 sees the config, so it builds the cluster's shape when [redis] cluster is set. policyctl
// runs step 2 synchronously (AdminSession::Run), policyd's HTTP face on its loop's store; both
// through RunAdminCall on an AdminBackend (one Redis or a cluster).
#pragma once

#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/result.h"
#include "ops/admin_backend.h"
#include "store/redis_client.h"
#include "store/redis_value.h"
#include "store/script_runner.h"

namespace policyd::ops {

struct AdminCall;
using AdminDone = std::function<void(Result<nlohmann::json>)>;

struct AdminCall {
  std::string script;              // an embedded script's name, or "" for a plain command
  std::vector<std::string> argv;   // the script's ARGV, or the command
  // On a cluster: a key the call touches, whose slot picks the primary (ignored on one Redis;
  // "" for a plain command: its key, argv[1]).
  std::string route_key;
  std::function<Result<nlohmann::json>(const RedisValue&)> result;  // step 3, pure
  // Instead of result: the reply makes the next call of a chain (or an error that ends it).
  std::function<Result<AdminCall>(const RedisValue&)> then;
  // Instead of script/argv: an operation that is not one call runs itself on the backend.
  std::function<void(AdminBackend backend, uint64_t timeout_ms, AdminDone done)> run;
};

// Step 2 on an event loop: done gets step 3's outcome (or the Redis error).
void RunAdminCall(AdminBackend backend, AdminCall call, uint64_t timeout_ms, AdminDone done);

// The reply of a write script: { 'ok', ... } goes to ok(reply); { 'notfound', text } and
// { 'conflict', text } become kNotFound and kConflict with that text, { 'invalid', field,
// text } kInvalid "field: text" (what only Redis knows, e.g. a user that does not exist yet).
Result<nlohmann::json> ScriptOutcome(
    const RedisValue& reply, const std::function<Result<nlohmann::json>(const RedisValue&)>& ok);

}  // namespace policyd::ops
