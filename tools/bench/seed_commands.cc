#include "bench/seed_commands.h"

#include <fmt/format.h>

#include <initializer_list>
#include <iterator>
#include <string_view>

#include "bench/workload.h"
#include "core/redis_keys.h"

namespace policyd::bench {
namespace {

void AppendCommand(std::initializer_list<std::string_view> args, std::string* out) {
  auto it = std::back_inserter(*out);
  fmt::format_to(it, "*{}\r\n", args.size());
  for (std::string_view a : args) fmt::format_to(it, "${}\r\n{}\r\n", a.size(), a);
}

}  // namespace

std::string AccountName(uint64_t user_index, uint64_t per_account) {
  return fmt::format("a{:012}", user_index / (per_account ? per_account : 1));
}

void AppendSeedCommands(const Config& config, const ToolOptions& o, uint64_t first,
                        uint64_t count, std::string* out) {
  const std::string& prefix = config.redis.key_prefix;
  uint64_t per = o.per_account ? o.per_account : 1;
  for (uint64_t i = first; i < first + count; ++i) {
    std::string account = AccountName(i, per);
    std::string account_tag = SubjectTag(SubjectKind::kAccount, account);
    if (i % per == 0 || i == first) {
      if (!o.plan.empty()) {
        AppendCommand({"HSET", BuildKey(prefix, "account", account_tag), "plan", o.plan}, out);
      }
      AppendCommand(
          {"HSET", BuildKey(prefix, "domains", account_tag), o.sender_domain, "verified"}, out);
    }
    std::string user_tag = SubjectTag(SubjectKind::kUser, UserName(i));
    AppendCommand({"HSET", BuildKey(prefix, "user", user_tag), "account", account, "mode",
                   "explicit"},
                  out);
    AppendCommand({"SADD", BuildKey(prefix, "grants", user_tag), o.sender_domain}, out);
  }
}

}  // namespace policyd::bench
