#include "ops/admin_call.h"

#include <memory>

namespace policyd::ops {

void RunAdminCall(RedisClient& client, ScriptRunner& scripts, AdminCall call,
                  uint64_t timeout_ms, std::function<void(Result<nlohmann::json>)> done) {
  auto result = std::make_shared<std::function<Result<nlohmann::json>(const RedisValue&)>>(
      std::move(call.result));
  auto finish = [result, done = std::move(done)](Result<RedisValue> r) {
    if (!r.ok()) return done(r.error());
    if (r->IsError()) return done(Error{ErrorCode::kInternal, "redis: " + r->str});
    done((*result)(*r));
  };
  if (call.script.empty()) {
    client.Command(std::move(call.argv), timeout_ms, std::move(finish));
  } else {
    scripts.Run(call.script, std::move(call.argv), timeout_ms, std::move(finish));
  }
}

Result<nlohmann::json> ScriptOutcome(
    const RedisValue& reply, const std::function<Result<nlohmann::json>(const RedisValue&)>& ok) {
  if (reply.elements.empty()) return Error{ErrorCode::kInternal, "script returned no status"};
  std::string status = reply.elements[0].AsString();
  std::string text = reply.elements.size() > 1 ? reply.elements[1].AsString() : "";
  if (status == "ok") return ok(reply);
  if (status == "notfound") return Error{ErrorCode::kNotFound, text};
  if (status == "conflict") return Error{ErrorCode::kConflict, text};
  if (status == "invalid" && reply.elements.size() > 2) {  // { 'invalid', field, message }
    return Invalid(text + ": " + reply.elements[2].AsString());
  }
  return Error{ErrorCode::kInternal, "script returned status '" + status + "'"};
}

}  // namespace policyd::ops
