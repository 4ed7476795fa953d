// Where decisions meet Redis: one decide.lua call per request (DESIGN §3), its reply turned
// into a Verdict. The only code that sends the decision script.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "core/config.h"
#include "core/decide_args.h"
#include "core/policy_request.h"
#include "core/result.h"
#include "core/verdict.h"
#include "store/redis_client.h"
#include "store/script_runner.h"

namespace policyd {

class PolicyStore {
 public:
  using Callback = std::function<void(Result<Verdict>)>;

  explicit PolicyStore(RedisClient* client) : scripts_(client) {}

  // Decides one request under config (a snapshot the caller keeps alive until callback).
  // callback runs exactly once, possibly before Decide returns (Redis not connected).
  // Errors: kUnavailable, kTimeout (after [server] request_timeout), kInternal (script error).
  // options: explain mode (no writes, facts in Verdict::facts) and an injected clock.
  void Decide(std::shared_ptr<const Config> config, const PolicyRequest& request,
              Callback callback, const DecideOptions& options = {});

  ScriptRunner& scripts() { return scripts_; }

 private:
  struct Specs {
    std::string plans;
    AbuseSpecs abuse;
  };
  const Specs& SpecsFor(const std::shared_ptr<const Config>& config);

  ScriptRunner scripts_;
  const Config* specs_config_ = nullptr;
  std::shared_ptr<const Config> specs_hold_;
  Specs specs_;
};

}  // namespace policyd
