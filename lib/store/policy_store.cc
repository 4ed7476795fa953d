#include "store/policy_store.h"

#include "core/access_cache.h"
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
  std::string fill_key;
  if (caches_ != nullptr && options.mode == DecideMode::kDecide &&
      caches_->AccessUsable(*config)) {
    std::string key = AccessKey(args[kArgSubject], args[kArgSenderTag], args[kArgDomain],
                                args[kArgClientHex]);
    if (const AccessFacts* facts = caches_->access().Find(key)) {
      if (!facts->full) {
        AppendFastPathArgs(*facts, &args);
        ++caches_->mutable_counters().access_hits;
      }
    } else if (filling_.size() < kMaxFillsInFlight && !filling_.count(key)) {
      fill_key = std::move(key);
    }
  }
  std::vector<std::string> fill_args;
  if (!fill_key.empty()) fill_args.assign(args.begin(), args.begin() + 31);  // ARGV 1-31
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
  // Behind the decision on the same connection: the decision's latency is unchanged.
  if (!fill_key.empty()) Fill(fill_key, std::move(fill_args), timeout);
}

void PolicyStore::Fill(const std::string& key, std::vector<std::string> args,
                       uint64_t timeout_ms) {
  filling_.insert(key);
  uint64_t generation = caches_->access().generation();
  scripts_.Run("access_facts", std::move(args), timeout_ms,
               [this, key, generation](Result<RedisValue> reply) {
                 filling_.erase(key);
                 if (!reply.ok() || caches_ == nullptr) return;
                 std::vector<std::string> fields;
                 for (const RedisValue& v : reply->elements) fields.push_back(v.AsString());
                 std::optional<AccessFacts> facts = ParseAccessFacts(fields);
                 if (facts && caches_->access().Store(key, std::move(*facts), generation)) {
                   ++caches_->mutable_counters().access_fills;
                 }
               });
}

}  // namespace policyd
