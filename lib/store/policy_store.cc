#include "store/policy_store.h"

#include "core/decide_args.h"
#include "core/report_token.h"

namespace policyd {

const PolicyStore::Specs& PolicyStore::SpecsFor(const std::shared_ptr<const Config>& config) {
  if (specs_config_ != config.get()) {
    specs_ = {PlansSpec(*config), AbuseSpec(*config)};
    specs_config_ = config.get();
    specs_hold_ = config;  // keeps the pointer unique while cached
  }
  return specs_;
}

void PolicyStore::Decide(std::shared_ptr<const Config> config, const PolicyRequest& request,
                         Callback callback, const DecideOptions& base_options) {
  if (std::optional<Verdict> local = DecideLocally(request, *config)) {
    local->user = request.SaslUsername();
    return callback(std::move(*local));
  }
  DecideOptions options = base_options;
  options.report_id = NewReportId();
  const Specs& specs = SpecsFor(config);
  std::vector<std::string> args =
      BuildDecideArgs(request, *config, options, specs.plans, specs.abuse);
  uint64_t timeout = config->server.request_timeout_ms;
  scripts_.Run("decide", std::move(args), timeout,
               [user = std::string(request.SaslUsername()),
                callback = std::move(callback)](Result<RedisValue> reply) {
                 if (!reply.ok()) return callback(reply.error());  // ScriptRunner: errors too
                 std::vector<std::string> fields;
                 for (const RedisValue& v : reply->elements) fields.push_back(v.AsString());
                 std::string facts;
                 Result<Verdict> verdict = ParseDecideReply(fields, &facts);
                 if (verdict.ok()) {
                   verdict->user = user;
                   verdict->facts = std::move(facts);
                 }
                 callback(std::move(verdict));
               });
}

}  // namespace policyd
