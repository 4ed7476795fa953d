#include "core/config_keys.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>
#include <set>
#include <type_traits>
#include <utility>

#include "core/admin_tokens.h"
#include "core/listen_address.h"
#include "core/page_template.h"
#include "core/quota.h"
#include "core/redis_url.h"
#include "core/reply_template.h"

namespace policyd {
namespace {

constexpr uint64_t kSecond = 1000, kMinute = 60 * kSecond, kHour = 60 * kMinute, kDay = 24 * kHour;
constexpr uint64_t kKiB = 1024, kMiB = 1024 * kKiB;
constexpr double kNoMax = std::numeric_limits<double>::infinity();

enum class Reload { kYes, kRestart };

// Rows name their Config field with a generic lambda, so one accessor serves both the setter
// (Config&) and the getter (const Config&). Captureless lambdas are default-constructible in
// C++20, which lets the row factories below turn them into plain function pointers.
// clang-format off
#define FIELD(member) [](auto& c) -> auto& { return c.member; }
#define WEIGHT(name) [](auto& c) -> auto& { return Weight(c, name); }
// clang-format on

template <typename F>
using FieldType = std::remove_cvref_t<decltype(F{}(std::declval<Config&>()))>;

// GCC warns about designated initializers that skip members, so rows start from Row() and
// the factories fill in what their type needs.
ConfigKey Row(std::string_view name, KeyType type, double min = 0, double max = 0,
              Reload reload = Reload::kYes) {
  ConfigKey key;
  key.name = name;
  key.type = type;
  key.min = min;
  key.max = max;
  key.reloadable = reload == Reload::kYes;
  return key;
}

template <typename F>
ConfigKey Int(std::string_view name, int64_t min, int64_t max, F, Reload reload = Reload::kYes) {
  ConfigKey key = Row(name, KeyType::kInt, double(min), double(max), reload);
  key.set = [](Config& c, const KeyValue& v) {
    F{}(c) = static_cast<FieldType<F>>(std::get<int64_t>(v));
  };
  key.get = [](const Config& c) -> KeyValue { return static_cast<int64_t>(F{}(c)); };
  return key;
}

// kDuration (ms) and kSize (bytes) share the uint64_t representation.
template <typename F>
ConfigKey Unsigned(KeyType type, std::string_view name, uint64_t min, uint64_t max, F) {
  ConfigKey key = Row(name, type, double(min), double(max));
  key.set = [](Config& c, const KeyValue& v) {
    F{}(c) = static_cast<FieldType<F>>(std::get<uint64_t>(v));
  };
  key.get = [](const Config& c) -> KeyValue { return static_cast<uint64_t>(F{}(c)); };
  return key;
}
template <typename F>
ConfigKey Duration(std::string_view name, uint64_t min_ms, uint64_t max_ms, F f) {
  return Unsigned(KeyType::kDuration, name, min_ms, max_ms, f);
}
template <typename F>
ConfigKey Size(std::string_view name, uint64_t min, uint64_t max, F f) {
  return Unsigned(KeyType::kSize, name, min, max, f);
}

template <typename F>
ConfigKey Double(std::string_view name, double min, double max, F, bool min_exclusive = false) {
  ConfigKey key = Row(name, KeyType::kDouble, min, max);
  key.min_exclusive = min_exclusive;
  key.set = [](Config& c, const KeyValue& v) { F{}(c) = std::get<double>(v); };
  key.get = [](const Config& c) -> KeyValue { return F{}(c); };
  return key;
}

// `allowed` lists the enum's names in declaration order: index i is the enum value i.
template <typename F>
ConfigKey Enum(std::string_view name, std::vector<std::string_view> allowed, F) {
  ConfigKey key = Row(name, KeyType::kEnum);
  key.allowed = std::move(allowed);
  key.set = [](Config& c, const KeyValue& v) {
    F{}(c) = static_cast<FieldType<F>>(std::get<int64_t>(v));
  };
  key.get = [](const Config& c) -> KeyValue { return static_cast<int64_t>(F{}(c)); };
  return key;
}

template <typename F>
ConfigKey String(std::string_view name, F, std::string (*check)(const KeyValue&) = nullptr,
                 Reload reload = Reload::kYes) {
  ConfigKey key = Row(name, KeyType::kString, 0, 0, reload);
  key.check = check;
  key.set = [](Config& c, const KeyValue& v) { F{}(c) = std::get<std::string>(v); };
  key.get = [](const Config& c) -> KeyValue { return F{}(c); };
  return key;
}

template <typename F>
ConfigKey StringList(std::string_view name, F, std::string (*check)(const KeyValue&),
                     Reload reload) {
  ConfigKey key = Row(name, KeyType::kStringList, 0, 0, reload);
  key.check = check;
  key.set = [](Config& c, const KeyValue& v) { F{}(c) = std::get<std::vector<std::string>>(v); };
  key.get = [](const Config& c) -> KeyValue { return F{}(c); };
  return key;
}

// Weights live in a map; the getter must not insert, so it uses at() (the defaults hold
// every weight name, and the setter is the only other writer).
template <typename C>
auto& Weight(C& c, const std::string& name) {
  if constexpr (std::is_const_v<C>) {
    return c.abuse.weights.at(name);
  } else {
    return c.abuse.weights[name];
  }
}

std::string CheckListen(const std::vector<std::string>& list, bool may_be_empty) {
  if (list.empty() && !may_be_empty) return "is empty, expected at least one address";
  std::set<std::string> seen;
  for (const std::string& text : list) {
    auto address = ParseListenAddress(text);
    if (!address) return address.error().message;
    if (!seen.insert(address->Describe()).second) {
      return fmt::format("'{}' is listed twice, expected each address once", text);
    }
  }
  return "";
}

std::string CheckServerListen(const KeyValue& v) {
  return CheckListen(std::get<std::vector<std::string>>(v), false);
}
std::string CheckHttpListen(const KeyValue& v) {
  return CheckListen(std::get<std::vector<std::string>>(v), true);
}

std::string CheckRedisUrl(const KeyValue& v) {
  auto endpoint = ParseRedisUrl(std::get<std::string>(v));
  return endpoint ? "" : endpoint.error().message;
}

std::string CheckSentinels(const KeyValue& v) {
  for (const std::string& s : std::get<std::vector<std::string>>(v)) {
    auto endpoint = ParseRedisUrl("redis://" + s);
    if (!endpoint || s.find('/') != std::string::npos || s.find('@') != std::string::npos) {
      return fmt::format("'{}' is not host:port", s);
    }
  }
  return "";
}

// Seed nodes: 1..64 of them (a map is read from any one; more is a typo or a list of every node
// pasted in, which the map gives anyway).
std::string CheckCluster(const KeyValue& v) {
  const auto& seeds = std::get<std::vector<std::string>>(v);
  if (seeds.size() > kMaxClusterSeeds) {
    return fmt::format("{} seed nodes, expected at most {} (the slot map names the rest)",
                       seeds.size(), kMaxClusterSeeds);
  }
  for (const std::string& s : seeds) {
    // The port is required: a cluster node on 6379 is rare, and a forgotten port is a typo.
    size_t colon = s.rfind(':');
    bool has_port = colon != std::string::npos && colon + 1 < s.size() &&
                    (s.front() != '[' || s.rfind(']') < colon);
    if (!has_port) return fmt::format("'{}' is not host:port", s);
  }
  return CheckSentinels(v);
}

// The prefix starts every Redis key; braces would break the hash tags that follow it.
std::string CheckKeyPrefix(const KeyValue& v) {
  const std::string& prefix = std::get<std::string>(v);
  if (prefix.empty() || prefix.size() > 32) return "must be 1 to 32 characters";
  for (char ch : prefix) {
    if (ch <= ' ' || ch > '~' || ch == '{' || ch == '}') {
      return fmt::format("'{}' has a space, brace or non-printable character, expected e.g. 'pd:'",
                         prefix);
    }
  }
  return "";
}

std::string CheckTemplate(const KeyValue& v, TemplatePurpose purpose) {
  Status status = CheckReplyTemplate(std::get<std::string>(v), purpose);
  return status ? "" : status.error().message;
}
std::string CheckRejectTemplate(const KeyValue& v) {
  return CheckTemplate(v, TemplatePurpose::kReject);
}
std::string CheckDeferTemplate(const KeyValue& v) {
  return CheckTemplate(v, TemplatePurpose::kDefer);
}

// The base URL ends up inside SMTP replies, so it must be plain printable ASCII; policyd
// appends "?id=...&auth=...", so it cannot carry a query or fragment of its own.
std::string CheckBaseUrl(const KeyValue& v) {
  const std::string& url = std::get<std::string>(v);
  bool scheme = url.starts_with("http://") || url.starts_with("https://");
  bool plain = std::all_of(url.begin(), url.end(),
                           [](char ch) { return ch > ' ' && ch <= '~' && ch != '?' && ch != '#'; });
  if (!scheme || !plain || url.find("://") + 3 == url.size()) {
    return fmt::format(
        "'{}' is not a plain URL, expected http://host/path or https://host/path without ? or #",
        url);
  }
  return "";
}

// Branding URLs end up in the report page's attributes: plain http(s) URLs only (mailto: too
// for the support link), checked by the same rule the page applies (core/page_template.h).
std::string CheckLogoUrl(const KeyValue& v) {
  const std::string& url = std::get<std::string>(v);
  if (url.empty() || !UrlOrigin(url).empty()) return "";
  return fmt::format("'{}' is not a plain http:// or https:// URL", url);
}

std::string CheckSupportUrl(const KeyValue& v) {
  const std::string& url = std::get<std::string>(v);
  if (url.empty() || IsSafePageUrl(url, true)) return "";
  return fmt::format("'{}' is not a plain http://, https:// or mailto: URL", url);
}

std::string CheckRelayName(const KeyValue& v) {
  const std::string& name = std::get<std::string>(v);
  bool plain = std::all_of(name.begin(), name.end(),
                           [](char ch) { return static_cast<unsigned char>(ch) >= ' ' && ch != 0x7f; });
  if (name.empty() || name.size() > 100 || !plain) return "1-100 characters, no control characters";
  return "";
}

std::string CheckSecret(const KeyValue& v) {
  return std::get<std::string>(v).size() >= 16 ? "" : "required, at least 16 characters";
}
std::string CheckApiToken(const KeyValue& v) {
  size_t size = std::get<std::string>(v).size();
  return size == 0 || size >= 16 ? "" : "too short, expected empty (API off) or 16+ characters";
}

std::string CheckRetryDelays(const KeyValue& v) {
  const auto& delays = std::get<std::vector<std::string>>(v);
  if (delays.size() > 20) return "more than 20 delays, expected at most 20";
  for (const std::string& d : delays) {
    Result<uint64_t> ms = ParseDuration(d);
    if (!ms) return fmt::format("'{}' is not a duration, expected e.g. \"30s\" or \"4h\"", d);
    if (*ms > 7 * kDay) return fmt::format("'{}' is longer than 7d", d);
  }
  return "";
}

std::string CheckStampSecret(const KeyValue& v) {
  size_t size = std::get<std::string>(v).size();
  return size == 0 || size >= 16 ? "" : "too short, expected empty (no stamp) or 16+ characters";
}
// A header field name (RFC 5322 ftext), and nothing that could end the PREPEND text early.
std::string CheckHeaderName(const KeyValue& v) {
  const std::string& name = std::get<std::string>(v);
  bool ok = !name.empty() && name.size() <= 64 &&
            std::all_of(name.begin(), name.end(), [](char ch) {
              return (ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
                     (ch >= '0' && ch <= '9') || ch == '-';
            });
  return ok ? "" : "expected a header name of letters, digits and '-' (at most 64)";
}

std::string CheckAdminTokens(const KeyValue& v) {
  return CheckAdminTokenEntries(std::get<std::vector<std::string>>(v));
}

std::string CheckQuotaTimeZone(const KeyValue& v) {
  Result<int> offset = ParseUtcOffset(std::get<std::string>(v));
  return offset.ok() ? "" : offset.error().message;
}

std::string CheckQuotaWarnAt(const KeyValue& v) {
  Result<std::vector<int>> levels = ParseWarnAt(std::get<std::vector<std::string>>(v));
  return levels.ok() ? "" : levels.error().message;
}

std::vector<ConfigKey> BuildKeys() {
  return {
      StringList("server.listen", FIELD(server.listen), CheckServerListen, Reload::kRestart),
      Int("server.max_connections", 1, 1'000'000, FIELD(server.max_connections)),
      Size("server.max_line_bytes", 64, kMiB, FIELD(server.parser.max_line_bytes)),
      Int("server.max_attributes", 1, 10'000, FIELD(server.parser.max_attributes)),
      Size("server.max_request_bytes", kKiB, 64 * kMiB, FIELD(server.parser.max_request_bytes)),
      Duration("server.request_timeout", 10, 100 * kSecond, FIELD(server.request_timeout_ms)),
      Duration("server.idle_timeout", 0, 7 * kDay, FIELD(server.idle_timeout_ms)),
      Duration("server.shutdown_timeout", 0, kHour, FIELD(server.shutdown_timeout_ms)),
      Int("server.threads", 0, 64, FIELD(server.threads), Reload::kRestart),

      String("redis.url", FIELD(redis.url), CheckRedisUrl, Reload::kRestart),
      StringList("redis.sentinels", FIELD(redis.sentinels), CheckSentinels, Reload::kRestart),
      String("redis.master_name", FIELD(redis.master_name), nullptr, Reload::kRestart),
      StringList("redis.cluster", FIELD(redis.cluster), CheckCluster, Reload::kRestart),
      Duration("redis.connect_timeout", 10, kMinute, FIELD(redis.connect_timeout_ms)),
      Duration("redis.reconnect_min", 1, kMinute, FIELD(redis.reconnect_min_ms)),
      Duration("redis.reconnect_max", 1, 10 * kMinute, FIELD(redis.reconnect_max_ms)),
      String("redis.key_prefix", FIELD(redis.key_prefix), CheckKeyPrefix),

      Enum("failure.on_redis_error", {"dunno", "defer"}, FIELD(failure.on_redis_error)),

      Enum("policy.unauthenticated", {"dunno", "reject", "sender"}, FIELD(policy.unauthenticated)),
      String("policy.unknown_user", FIELD(policy.unknown_user)),  // checked against [plans]
      String("policy.default_plan", FIELD(policy.default_plan)),  // checked against [plans]
      Enum("policy.count_at", {"eom", "rcpt"}, FIELD(policy.count_at)),
      Duration("policy.dedup_ttl", kSecond, kDay, FIELD(policy.dedup_ttl_ms)),
      Int("policy.buckets", 2, 600, FIELD(policy.buckets)),

      Int("abuse.throttle_events", 0, 1'000'000, FIELD(abuse.throttle_events)),
      Duration("abuse.within", kSecond, 30 * kDay, FIELD(abuse.within_ms)),
      Duration("abuse.block_for", kSecond, 365 * kDay, FIELD(abuse.block_for_ms)),
      Duration("abuse.memory", 0, 365 * kDay, FIELD(abuse.memory_ms)),
      Double("abuse.escalate", 1, 1000, FIELD(abuse.escalate)),
      Duration("abuse.max_block", kSecond, 365 * kDay, FIELD(abuse.max_block_ms)),
      Duration("abuse.score_window", kSecond, 30 * kDay, FIELD(abuse.score_window_ms)),
      Double("abuse.score_threshold", 0, kNoMax, FIELD(abuse.score_threshold), true),
      Int("abuse.list_bombing_messages", 1, 1'000'000, FIELD(abuse.list_bombing_messages)),
      Duration("abuse.list_bombing_window", kSecond, 30 * kDay,
               FIELD(abuse.list_bombing_window_ms)),
      Int("abuse.evidence_max", 1, 1000, FIELD(abuse.evidence_max)),
      Duration("abuse.evidence_ttl", kMinute, 365 * kDay, FIELD(abuse.evidence_ttl_ms)),
      Duration("abuse.rate_window", kHour, 30 * kDay, FIELD(abuse.rate_window_ms)),
      Int("abuse.rate_min_messages", 0, 1'000'000'000, FIELD(abuse.rate_min_messages)),
      Double("abuse.complaint_warn", 0, 100, FIELD(abuse.complaint_warn)),
      Double("abuse.complaint_block", 0, 100, FIELD(abuse.complaint_block)),
      Double("abuse.bounce_warn", 0, 100, FIELD(abuse.bounce_warn)),
      Double("abuse.bounce_block", 0, 100, FIELD(abuse.bounce_block)),
      Double("abuse.weights.complaint", 0, 1e6, WEIGHT("complaint")),
      Double("abuse.weights.bounce", 0, 1e6, WEIGHT("bounce")),
      Double("abuse.weights.spam", 0, 1e6, WEIGHT("spam")),
      Double("abuse.weights.bad_recipient", 0, 1e6, WEIGHT("bad_recipient")),
      Double("abuse.weights.list_bombing", 0, 1e6, WEIGHT("list_bombing")),

      String("report.base_url", FIELD(report.base_url), CheckBaseUrl),
      String("report.secret", FIELD(report.secret), CheckSecret),
      Duration("report.ttl", kMinute, 365 * kDay, FIELD(report.ttl_ms)),
      Duration("report.acl_dedup", kSecond, 30 * kDay, FIELD(report.acl_dedup_ms)),
      String("report.relay_name", FIELD(report.relay_name), CheckRelayName),
      String("report.support_url", FIELD(report.support_url), CheckSupportUrl),
      String("report.logo_url", FIELD(report.logo_url), CheckLogoUrl),

      StringList("http.listen", FIELD(http.listen), CheckHttpListen, Reload::kRestart),
      String("http.api_token", FIELD(http.api_token), CheckApiToken),
      StringList("http.admin_tokens", FIELD(http.admin_tokens), CheckAdminTokens, Reload::kYes),
      Size("http.max_header_bytes", kKiB, kMiB, FIELD(http.max_header_bytes)),
      Size("http.max_body_bytes", kKiB, 64 * kMiB, FIELD(http.max_body_bytes)),
      Duration("http.timeout", 100, 10 * kMinute, FIELD(http.timeout_ms)),

      String("feedback.stamp_secret", FIELD(feedback.stamp_secret), CheckStampSecret),
      String("feedback.stamp_header", FIELD(feedback.stamp_header), CheckHeaderName),
      Duration("feedback.stamp_max_age", kHour, 365 * kDay, FIELD(feedback.stamp_max_age_ms)),
      String("feedback.rspamd_token", FIELD(feedback.rspamd_token), CheckApiToken),
      String("quota.time_zone", FIELD(quota.time_zone), CheckQuotaTimeZone),
      StringList("quota.warn_at", FIELD(quota.warn_at), CheckQuotaWarnAt, Reload::kYes),
      Enum("quota.exhausted", {"reject", "defer"}, FIELD(quota.exhausted)),

      String("messages.acl", FIELD(messages.acl), CheckRejectTemplate),
      String("messages.abuse", FIELD(messages.abuse), CheckRejectTemplate),
      String("messages.rate", FIELD(messages.rate), CheckDeferTemplate),
      String("messages.defer", FIELD(messages.defer), CheckDeferTemplate),
      String("messages.unauthenticated", FIELD(messages.unauthenticated), CheckRejectTemplate),
      String("messages.ip", FIELD(messages.ip), CheckRejectTemplate),
      String("messages.quota", FIELD(messages.quota), CheckRejectTemplate),
      String("messages.quota_defer", FIELD(messages.quota_defer), CheckDeferTemplate),

      StringList("webhooks.retry_delays", FIELD(webhooks.retry_delays), CheckRetryDelays,
                 Reload::kYes),
      Duration("webhooks.timeout", 100, 10 * kMinute, FIELD(webhooks.timeout_ms)),
      Duration("webhooks.claim_after", 100, kDay, FIELD(webhooks.claim_after_ms)),
      Duration("webhooks.poll_interval", 10, kMinute, FIELD(webhooks.poll_interval_ms)),

      Enum("log.level", {"debug", "info", "warning", "error"}, FIELD(log.level)),
      Enum("log.target", {"stderr", "syslog"}, FIELD(log.target)),
  };
}

#undef FIELD
#undef WEIGHT

}  // namespace

std::string_view ConfigKey::section() const { return name.substr(0, name.rfind('.')); }
std::string_view ConfigKey::leaf() const { return name.substr(name.rfind('.') + 1); }

const std::vector<ConfigKey>& ConfigKeys() {
  static const std::vector<ConfigKey> keys = BuildKeys();
  return keys;
}

const ConfigKey* FindConfigKey(std::string_view name) {
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

bool IsConfigSection(std::string_view name) {
  return std::any_of(ConfigKeys().begin(), ConfigKeys().end(), [name](const ConfigKey& key) {
    return key.section() == name || key.section().starts_with(std::string(name) + ".");
  });
}

}  // namespace policyd
