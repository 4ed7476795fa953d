#include "ops/explain_ops.h"

#include "core/decide_args.h"
#include "core/report_token.h"
#include "core/verdict.h"
#include "ops/admin_input.h"
#include "ops/op_input.h"
#include "store/cluster_explain.h"

namespace policyd::ops {
namespace {

nlohmann::json ExplainJson(const Config& config, const Verdict& v) {
  std::string reply = FormatVerdict(v, config);
  nlohmann::json facts = nlohmann::json::parse(v.facts, nullptr, false);
  if (facts.is_discarded()) facts = nlohmann::json::object();
  bool needs_report = v.action == Action::kAclReject || v.action == Action::kBlocked ||
                      v.action == Action::kIpRefused;
  if (needs_report && v.report_id.empty()) {
    // No report yet (policyd makes one when it refuses): a placeholder instead of a URL with
    // an empty id that would lead nowhere.
    const ReportConfig& rc = config.report;
    std::string empty_url = ReportUrl(rc.base_url, rc.secret, "");
    if (auto at = reply.find(empty_url); at != std::string::npos) {
      reply.replace(at, empty_url.size(), rc.base_url + "?id=<new>&auth=<new>");
    }
  }
  return {{"reply", reply},
          {"action", ActionName(v.action)},
          {"rule", v.rule},
          {"report", v.report_id},
          {"facts", facts}};
}

}  // namespace

AdminCall ExplainCall(const Config& config, const PolicyRequest& request) {
  AdminCall call;
  if (std::optional<Verdict> local = DecideLocally(request, config)) {
    call.argv = {"PING"};  // decided without Redis; the call only keeps the shape
    local->user = request.SaslUsername();
    call.result = [config, v = *local](const RedisValue&) -> Result<nlohmann::json> {
      return ExplainJson(config, v);
    };
    return call;
  }
  DecideOptions options;
  options.mode = DecideMode::kExplain;
  if (!config.redis.cluster.empty()) {
    // On a cluster the facts are read slot by slot (lib/store/cluster_explain.h).
    call.run = [config = std::make_shared<const Config>(config), request, options](
                   AdminBackend backend, uint64_t timeout_ms, AdminDone done) {
      ClusterClient* cluster = backend.cluster_client();
      ExplainOnCluster(cluster->loop(), cluster, backend.reports().cluster_scripts(), config,
                       request, options, timeout_ms,
                       [config, done = std::move(done)](Result<Verdict> v) {
                         if (!v.ok()) return done(v.error());
                         done(ExplainJson(*config, *v));
                       });
    };
    return call;
  }
  call.script = "decide";
  call.argv = BuildDecideArgs(request, config, options, PlansSpec(config), AbuseSpec(config));
  call.result = [config, user = std::string(request.SaslUsername())](
                    const RedisValue& reply) -> Result<nlohmann::json> {
    std::vector<std::string> fields;
    for (const RedisValue& v : reply.elements) fields.push_back(v.AsString());
    std::string facts;
    Result<Verdict> v = ParseDecideReply(fields, &facts);
    if (!v.ok()) return v.error();
    v->facts = std::move(facts);
    v->user = user;
    return ExplainJson(config, *v);
  };
  return call;
}

Result<AdminCall> ExplainRequest(const Config& config, const nlohmann::json& input) {
  if (Status s = CheckFields(input, {"request"}); !s.ok()) return s.error();
  auto it = input.find("request");
  if (it == input.end()) return FieldError("request", "required");
  if (!it->is_object() || it->empty()) {
    return FieldError("request", "expected an object of attributes, e.g. "
                                 "{\"protocol_state\": \"RCPT\", \"sasl_username\": \"alice\"}");
  }
  std::vector<std::string> args;
  for (const auto& [name, value] : it->items()) {
    bool name_ok = !name.empty() && name.size() <= 64 &&
                   name.find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_") ==
                       std::string::npos;
    if (!name_ok || !value.is_string()) {
      return FieldError("request", "each attribute is a lower-case name with a string value");
    }
    args.push_back(name + "=" + value.get<std::string>());
  }
  Result<PolicyRequest> request = admin::ParseExplainArgs(args, config.server.parser);
  if (!request.ok()) return FieldError("request", request.error().message);
  return ExplainCall(config, *request);
}

}  // namespace policyd::ops
