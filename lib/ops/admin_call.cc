#include "ops/admin_call.h"

#include <memory>

namespace policyd::ops {

void RunAdminCall(AdminBackend backend, AdminCall call, uint64_t timeout_ms, AdminDone done) {
  if (call.run) return call.run(backend, timeout_ms, std::move(done));
  auto result = std::make_shared<std::function<Result<nlohmann::json>(const RedisValue&)>>(
      std::move(call.result));
  auto then = std::make_shared<std::function<Result<AdminCall>(const RedisValue&)>>(
      std::move(call.then));
  auto finish = [backend, result, then, timeout_ms, done = std::move(done)](Result<RedisValue> r) {
    if (!r.ok()) return done(r.error());
    if (r->IsError()) return done(Error{ErrorCode::kInternal, "redis: " + r->str});
    if (!*then) return done((*result)(*r));
    Result<AdminCall> next = (*then)(*r);
    if (!next.ok()) return done(next.error());
    RunAdminCall(backend, std::move(*next), timeout_ms, std::move(done));
  };
  if (call.script.empty()) {
    backend.Command(call.route_key, std::move(call.argv), timeout_ms, std::move(finish));
  } else {
    backend.Script(call.script, call.route_key, std::move(call.argv), timeout_ms,
                   std::move(finish));
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
