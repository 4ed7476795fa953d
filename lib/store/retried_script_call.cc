#include "store/retried_script_call.h"

#include <utility>

namespace policyd {

namespace {

void Attempt(const SubjectScriptCall* call, std::string name, std::vector<std::string> keys,
             std::vector<std::string> args, uint64_t timeout_ms, int attempts_left, int retries,
             std::function<void(RetriedReply)> done) {
  // Copies for a retry: the call consumes its arguments.
  auto retry_keys = keys;
  auto retry_args = args;
  (*call)(name, std::move(keys), std::move(args), timeout_ms,
          [call, name, retry_keys = std::move(retry_keys), retry_args = std::move(retry_args),
           timeout_ms, attempts_left, retries,
           done = std::move(done)](Result<RedisValue> reply) mutable {
            if (!reply.ok() && attempts_left > 1) {
              return Attempt(call, std::move(name), std::move(retry_keys),
                             std::move(retry_args), timeout_ms, attempts_left - 1, retries + 1,
                             std::move(done));
            }
            done(RetriedReply{std::move(reply), retries});
          });
}

}  // namespace

void CallRetrying(const SubjectScriptCall* call, std::string_view name,
                  std::vector<std::string> keys, std::vector<std::string> args,
                  uint64_t timeout_ms, int attempts, std::function<void(RetriedReply)> done) {
  Attempt(call, std::string(name), std::move(keys), std::move(args), timeout_ms, attempts, 0,
          std::move(done));
}

}  // namespace policyd
