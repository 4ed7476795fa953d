#include "policyctl/usage_read.h"

#include <optional>

namespace policyd::admin {

Result<UsageData> ReadUsage(AdminSession& session, const UsageTags& tags,
                            const std::string& plan) {
  std::optional<RedisValue> reply;
  Result<nlohmann::json> run = session.Run(
      ops::UsageCall(session.config(), tags, plan, [&reply](const RedisValue& r) {
        reply = r;  // Run is synchronous: read below
        return Result<nlohmann::json>(nlohmann::json());
      }));
  if (!run.ok()) return run.error();
  const auto& e = reply->elements;
  if (e.size() < 4) return Error{ErrorCode::kInternal, "usage script: short reply"};
  UsageData d;
  d.known = e[0].AsInt() == 1;
  d.plan = e[1].AsString();
  d.unknown_plan = e[2].AsString();
  d.account = e[3].AsString();
  for (std::size_t i = 4; i < e.size(); ++i) {
    const auto& f = e[i].elements;
    if (f.size() != 8) return Error{ErrorCode::kInternal, "usage script: bad limit entry"};
    d.limits.push_back({f[0].AsString(), f[1].AsString(), f[2].AsString(),
                        static_cast<uint64_t>(f[3].AsInt()), static_cast<uint64_t>(f[4].AsInt()),
                        f[5].AsInt(), f[6].AsInt(), f[7].AsInt() == 1});
  }
  return d;
}

}  // namespace policyd::admin
