#include "policyctl/policyctl.h"

#include <fmt/format.h>

#include <map>

#include "policyctl/verb_table.h"
#include "policyctl/verbs.h"
#include "log/log.h"

namespace policyd::admin {
namespace {

// Verb name (verb_table.cc) -> handler.
const std::map<std::string_view, VerbFn>& Handlers() {
  static const std::map<std::string_view, VerbFn> handlers = {
      {"account set", AccountSet},   {"account show", AccountShow}, {"domain add", DomainAdd},
      {"domain verify", DomainVerify}, {"domain del", DomainDel},   {"domain list", DomainList},
      {"user set", UserSet},         {"user show", UserShow},       {"user del", UserDel},
      {"grant", Grant},              {"revoke", Revoke},            {"block add", BlockAdd},
      {"block list", BlockList},     {"block show", BlockShow},     {"block del", BlockDel},
      {"signal", SignalVerb},        {"usage", Usage},              {"explain", Explain},
      {"report show", ReportShow},   {"review list", ReviewList},
      {"review resolve", ReviewResolve},   {"user ip-allow", UserIpAllow},
      {"quota show", QuotaShow},     {"quota set", QuotaSet},       {"quota unlock", QuotaUnlock},
  };
  return handlers;
}

}  // namespace

int RunPolicyctl(const std::vector<std::string>& args, std::string_view version, CliIo& io) {
  const std::vector<VerbSpec>& verbs = PolicyctlVerbs();
  Result<Invocation> inv = ParseCommandLine(args, verbs, kDefaultConfigPath);
  if (!inv.ok()) {
    io.err += fmt::format("policyctl: {}\n", inv.error().message);
    return 2;
  }
  if (inv->version) {
    io.out += fmt::format("policyctl {}\n", version);
    return 0;
  }
  if (inv->help || !inv->verb) {
    io.out += inv->verb ? VerbHelp(*inv->verb) : GeneralHelp(verbs, kDefaultConfigPath);
    return 0;
  }
  auto handler = Handlers().find(inv->verb->name);
  if (handler == Handlers().end()) {
    io.err += fmt::format("policyctl: verb '{}' has no handler\n", inv->verb->name);
    return 1;
  }
  Result<Config> config = LoadConfigFile(inv->config_path);
  if (!config.ok()) {
    io.err += fmt::format("policyctl: {}\n", config.error().message);
    return 2;
  }
  // The store's own log lines (reconnects) would only repeat what the verb reports.
  SetLogConfig(LogLevel::kError, LogTarget::kStderr, "policyctl");
  AdminSession session(*config);
  VerbContext ctx{*inv, *config, session, AdminKeys(config->redis.key_prefix), io.read_stdin,
                  "", ""};
  Status status = handler->second(ctx);
  io.out += ctx.out;
  io.err += ctx.notes;
  if (!status.ok()) {
    io.err += fmt::format("policyctl: {}\n", status.error().message);
    return ExitCode(status.error());
  }
  return 0;
}

}  // namespace policyd::admin
