#include "ops/usage_ops.h"

#include <fmt/format.h>

#include <memory>
#include <utility>
#include <vector>

#include "core/decide_args.h"
#include "core/redis_keys.h"
#include "ops/admin_input.h"
#include "ops/op_input.h"

namespace policyd::ops {
namespace {

constexpr std::size_t kUsageHead = 4;  // known, plan, unknown plan, account; then the limits

std::string RateKey(const Config& config, const std::string& tag) {
  return BuildKey(config.redis.key_prefix, "rate", tag);
}

// usage_windows.lua for `tag`'s limits in `reply` (kind `kind`, not counted yet), in its slot;
// then the next subject's, or `result` once none is left.
AdminCall FillWindows(std::shared_ptr<const Config> config, RedisValue reply,
                      std::vector<std::pair<std::string, std::string>> left,  // kind, tag
                      std::function<Result<nlohmann::json>(const RedisValue&)> result);

AdminCall NextWindows(std::shared_ptr<const Config> config, RedisValue reply,
                      std::vector<std::pair<std::string, std::string>> left,
                      std::function<Result<nlohmann::json>(const RedisValue&)> result) {
  if (!left.empty()) return FillWindows(config, std::move(reply), std::move(left), result);
  AdminCall done;  // nothing more to read: step 3 on what the chain read, without Redis
  done.run = [reply = std::move(reply), result](AdminBackend, uint64_t, AdminDone d) {
    d(result(reply));
  };
  return done;
}

AdminCall FillWindows(std::shared_ptr<const Config> config, RedisValue reply,
                      std::vector<std::pair<std::string, std::string>> left,
                      std::function<Result<nlohmann::json>(const RedisValue&)> result) {
  auto [kind, tag] = left.back();
  left.pop_back();
  AdminCall call;
  call.script = "usage_windows";
  call.route_key = RateKey(*config, tag);
  call.argv = {config->redis.key_prefix, "0", std::to_string(config->policy.buckets), tag};
  std::vector<std::size_t> rows;  // the entries of reply this call fills
  for (std::size_t i = kUsageHead; i < reply.elements.size(); ++i) {
    const auto& f = reply.elements[i].elements;
    if (f.size() != 8 || f[0].AsString() != kind || f[1].AsString() != tag) continue;
    rows.push_back(i);
    call.argv.insert(call.argv.end(), {f[2].AsString(), f[4].AsString(), f[3].AsString()});
  }
  call.then = [config, reply = std::move(reply), left = std::move(left), rows,
               result](const RedisValue& counts) -> Result<AdminCall> {
    if (counts.elements.size() != rows.size()) {
      return Error{ErrorCode::kInternal, "usage_windows: short reply"};
    }
    RedisValue filled = reply;
    for (std::size_t i = 0; i < rows.size(); ++i) {
      auto& f = filled.elements[rows[i]].elements;
      if (counts.elements[i].elements.size() != 2) {
        return Error{ErrorCode::kInternal, "usage_windows: bad entry"};
      }
      f[5] = counts.elements[i].elements[0];
      f[6] = counts.elements[i].elements[1];
    }
    return NextWindows(config, std::move(filled), left, result);
  };
  return call;
}

}  // namespace

AdminCall UsageCall(const Config& config, const UsageTags& tags, const std::string& plan,
                    std::function<Result<nlohmann::json>(const RedisValue&)> result) {
  const std::string& prefix = config.redis.key_prefix;
  AdminCall call;
  call.script = "usage";
  call.argv = {prefix,   "0",          PlansSpec(config), config.policy.default_plan,
               std::to_string(config.policy.buckets), plan, tags.user, tags.account,
               tags.sender, tags.ip, "", ""};
  const std::string& own = !tags.user.empty()      ? tags.user
                           : !tags.account.empty() ? tags.account
                           : !tags.sender.empty()  ? tags.sender
                                                   : tags.ip;
  call.route_key = RateKey(config, own);
  bool chain = !config.redis.cluster.empty() && !tags.user.empty();
  if (!chain) {
    call.result = std::move(result);
    return call;
  }
  auto snapshot = std::make_shared<const Config>(config);
  call.argv[11] = "user";
  // usage.lua in the user's slot, told the account's plan; then the other subjects' windows.
  auto usage = [snapshot, call, tags, result](std::string account_plan) -> AdminCall {
    AdminCall u = call;
    u.argv[10] = "=" + account_plan;
    u.then = [snapshot, tags, result](const RedisValue& r) -> Result<AdminCall> {
      if (r.elements.size() < kUsageHead) return Error{ErrorCode::kInternal, "usage: short reply"};
      std::vector<std::pair<std::string, std::string>> left;
      if (r.elements[0].AsInt() != 1) return NextWindows(snapshot, r, left, result);  // no user
      std::string account = r.elements[3].AsString();
      if (IsValidAccountName(account)) {
        left.emplace_back("account", SubjectTag(SubjectKind::kAccount, account));
      }
      if (!tags.sender.empty()) left.emplace_back("sender", tags.sender);
      if (!tags.ip.empty()) left.emplace_back("ip", tags.ip);
      return NextWindows(snapshot, r, std::move(left), result);
    };
    return u;
  };
  AdminCall user_account;
  user_account.argv = {"HGET", BuildKey(prefix, "user", tags.user), "account"};
  user_account.then = [prefix, usage](const RedisValue& r) -> Result<AdminCall> {
    std::string account = r.AsString();
    if (!IsValidAccountName(account)) return usage("");
    AdminCall plan;
    plan.argv = {"HGET", BuildKey(prefix, "account", SubjectTag(SubjectKind::kAccount, account)),
                 "plan"};
    plan.then = [usage](const RedisValue& p) -> Result<AdminCall> { return usage(p.AsString()); };
    return plan;
  };
  return user_account;
}

Result<AdminCall> ShowUsage(const Config& config, const nlohmann::json& input) {
  if (Status s = CheckFields(input, {"subject", "plan", "sender", "ip"}); !s.ok()) {
    return s.error();
  }
  Result<std::optional<std::string>> text = StringField(input, "subject", true);
  if (!text.ok()) return text.error();
  Result<admin::UsageSubject> subject = admin::ParseUsageSubject(**text);
  if (!subject.ok()) return FieldError("subject", subject.error().message);
  Result<std::optional<std::string>> p = PlanField(config, input);
  if (!p.ok()) return p.error();
  std::string plan = p->value_or("");
  std::string user, account, sender, ip;
  for (const char* field : {"sender", "ip"}) {
    Result<std::optional<std::string>> v = StringField(input, field, false);
    if (!v.ok()) return v.error();
    if (!v->has_value()) continue;
    if (subject->kind != SubjectKind::kUser) {
      return FieldError(field, fmt::format("goes with a user:NAME subject, not '{}'",
                                           subject->tag));
    }
    if (std::string_view(field) == "sender") {
      Result<std::string> s = ParseBlockSubject("sender:" + **v);
      if (!s.ok()) return FieldError(field, s.error().message);
      sender = *s;
    } else {
      Result<admin::UsageSubject> a = admin::ParseUsageSubject("ip:" + **v);
      if (!a.ok()) return FieldError(field, a.error().message);
      ip = a->tag;
    }
  }
  switch (subject->kind) {
    case SubjectKind::kUser: user = subject->tag; break;
    case SubjectKind::kAccount: account = subject->tag; break;
    case SubjectKind::kSender: sender = subject->tag; break;
    case SubjectKind::kIp: ip = subject->tag; break;
  }
  auto result = [kind = subject->kind,
                 tag = subject->tag](const RedisValue& r) -> Result<nlohmann::json> {
    const auto& e = r.elements;
    if (e.size() < 4) return Error{ErrorCode::kInternal, "usage script: short reply"};
    if (e[0].AsInt() != 1) return Error{ErrorCode::kNotFound, tag + " not found"};
    nlohmann::json j = {{"subject", tag},
                        {"plan", e[1].AsString()},
                        {"account", e[3].AsString()},
                        {"limits", nlohmann::json::array()}};
    if (!e[2].AsString().empty()) j["unknown_plan"] = e[2].AsString();
    for (std::size_t i = 4; i < e.size(); ++i) {
      const auto& f = e[i].elements;
      if (f.size() != 8) return Error{ErrorCode::kInternal, "usage script: bad limit entry"};
      std::string limit_kind = f[0].AsString();
      // A user's request is checked against all four kinds; other subjects show their own.
      if (kind != SubjectKind::kUser && SubjectKindName(kind) != limit_kind) continue;
      bool counted = f[5].AsInt() >= 0;
      j["limits"].push_back({{"subject", limit_kind},
                             {"counter", f[1].AsString()},
                             {"metric", f[2].AsString()},
                             {"window_s", f[4].AsInt()},
                             {"max", f[3].AsInt()},
                             {"count", counted ? nlohmann::json(f[5].AsInt()) : nlohmann::json()},
                             {"retry_after_s",
                              counted ? nlohmann::json(f[6].AsInt()) : nlohmann::json()},
                             {"override", f[7].AsInt() == 1}});
    }
    return j;
  };
  return UsageCall(config, UsageTags{user, account, sender, ip}, plan, std::move(result));
}

}  // namespace policyd::ops
