// policyd's configuration: one TOML file (DESIGN §6), parsed into these value types.
// Every key, its type, bounds, default and whether SIGHUP can change it lives in one table
// (config_keys.cc); conf/policyd.toml documents the same keys and a test keeps them in step.
// Durations are stored in milliseconds, sizes in bytes.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/request_parser.h"
#include "core/result.h"

namespace policyd {

enum class SubjectKind { kUser, kSender, kAccount, kIp };
enum class Metric { kMessages, kRecipients, kBytes };

std::string_view SubjectKindName(SubjectKind kind);  // "user", "sender", "account", "ip"
std::string_view MetricName(Metric metric);          // "messages", "recipients", "bytes"

// One sliding-window limit of a plan: at most `max` units of `metric` per `window_ms` for the
// subject of kind `subject`.
struct Limit {
  SubjectKind subject = SubjectKind::kUser;
  Metric metric = Metric::kMessages;
  uint64_t max = 0;
  uint64_t window_ms = 0;
};

struct Plan {
  std::string name;               // [plans.NAME]; [a-z0-9_-], at most 64 bytes
  bool allow_any_domain = false;  // lets mode "any" send from any domain
  std::vector<Limit> limits;
};

struct ServerConfig {
  std::vector<std::string> listen = {"127.0.0.1:10040"};  // "host:port", "[v6]:port", "unix:/path"
  int max_connections = 4096;
  ParserLimits parser;        // max_line_bytes, max_attributes, max_request_bytes
  uint64_t request_timeout_ms = 1000;
  uint64_t idle_timeout_ms = 1100 * 1000;  // above Postfix's max_ttl (1000 s); 0 = never
  uint64_t shutdown_timeout_ms = 10 * 1000;
  int threads = 0;  // 0: one event loop per core
};

// [redis] cluster: at most this many seed nodes.
inline constexpr size_t kMaxClusterSeeds = 64;

struct RedisConfig {
  std::string url = "redis://127.0.0.1:6379/0";  // redis://[:password@]host:port/db, unix:///path
  uint64_t connect_timeout_ms = 1000;
  uint64_t reconnect_min_ms = 100;
  uint64_t reconnect_max_ms = 5000;
  std::string key_prefix = "pd:";
  // Redis Sentinel: when set, the primary is asked from these "host:port" sentinels under
  // master_name; url then only gives password and db.
  std::vector<std::string> sentinels;
  std::string master_name = "mymaster";
  // Redis Cluster: "host:port" seed nodes the slot map is read from (CLUSTER SLOTS); url then
  // only gives the username and password. Excludes sentinels.
  std::vector<std::string> cluster;
};

enum class FailureAction { kDunno, kDefer };
struct FailureConfig {
  FailureAction on_redis_error = FailureAction::kDunno;
};

enum class UnauthenticatedPolicy { kDunno, kReject, kSender };
enum class CountAt { kEndOfMessage, kRcpt };
struct PolicyConfig {
  UnauthenticatedPolicy unauthenticated = UnauthenticatedPolicy::kDunno;
  // "dunno", "reject", or the name of a plan (applied in account mode with no domains).
  std::string unknown_user = "dunno";
  std::string default_plan = "default";  // for users and accounts without a plan
  CountAt count_at = CountAt::kEndOfMessage;
  uint64_t dedup_ttl_ms = 600 * 1000;   // how long a counted message's identity is remembered
  int buckets = 60;                     // sub-buckets per sliding window
};

struct AbuseConfig {
  int throttle_events = 5;                       // throttles tolerated within `within`
  uint64_t within_ms = 10 * 60 * 1000;
  uint64_t block_for_ms = 60 * 60 * 1000;
  uint64_t memory_ms = 7ull * 24 * 3600 * 1000;  // repeat blocks within this escalate
  double escalate = 2.0;
  uint64_t max_block_ms = 30ull * 24 * 3600 * 1000;
  uint64_t score_window_ms = 60 * 60 * 1000;
  double score_threshold = 10.0;
  // Complaints and bounces are judged as rates (below), so by default they add nothing to the
  // score; a weight above 0 makes them count there too.
  std::map<std::string, double> weights = {{"complaint", 0}, {"bounce", 0}, {"spam", 5},
                                           {"bad_recipient", 1}, {"list_bombing", 5}};
  // Rates (issue 18): complaints and hard bounces per message the subject (user, sender)
  // sent within rate_window. Levels in percent; a rate above warn is an event, above block
  // (with at least rate_min_messages messages) a block.
  uint64_t rate_window_ms = 7ull * 24 * 3600 * 1000;
  int rate_min_messages = 200;
  double complaint_warn = 0.1;
  double complaint_block = 0.5;
  double bounce_warn = 5.0;
  double bounce_block = 10.0;
  int list_bombing_messages = 20;  // messages to one recipient from one subject...
  uint64_t list_bombing_window_ms = 10 * 60 * 1000;  // ...within this window
  int evidence_max = 50;
  uint64_t evidence_ttl_ms = 30ull * 24 * 3600 * 1000;
};

struct ReportConfig {
  std::string base_url = "http://127.0.0.1:10041/report";
  std::string secret;  // HMAC key for report auth tokens; required, at least 16 bytes
  uint64_t ttl_ms = 30ull * 24 * 3600 * 1000;
  uint64_t acl_dedup_ms = 60 * 60 * 1000;
  // Branding of the report page: the relay's name, a support link (http(s):// or mailto:)
  // and a logo image URL (http(s)://); "" = none.
  std::string relay_name = "Mail relay";
  std::string support_url;
  std::string logo_url;
};

struct HttpConfig {
  std::vector<std::string> listen;  // empty: no HTTP listener
  std::string api_token;            // bearer token for /api/v1; empty: API disabled
  // "read:TOKEN" / "write:TOKEN" for /api/v1/admin/ (core/admin_tokens.h); empty: admin API off
  std::vector<std::string> admin_tokens;
  uint64_t max_header_bytes = 8192;
  uint64_t max_body_bytes = 1024 * 1024;
  uint64_t timeout_ms = 10 * 1000;
};

// [quota]: monthly message quotas (core/quota.h). The quotas themselves are per user and per
// account in Redis (policyctl user set / account set --quota).
enum class QuotaExhausted { kReject, kDefer };
struct QuotaConfig {
  std::string time_zone = "UTC";  // "UTC" or a fixed offset "+02:00"
  std::vector<std::string> warn_at = {"80%", "90%", "100%"};
  QuotaExhausted exhausted = QuotaExhausted::kReject;  // [messages] quota or quota_defer
};

struct MessagesConfig {
  std::string acl = "550 [ACL] Blocked. See {report_url}";
  std::string abuse = "550 5.7.1 [ABUSE] Sender blocked: spam or abuse detected. See: {report_url}";
  std::string rate =
      "421 4.7.1 Rate limit exceeded: {metric} {count}/{max} per {window}; try again in "
      "{retry_after}s";
  std::string defer = "451 4.3.0 Policy service temporarily unavailable";
  // The client address is not in the SMTP user's IP allow-list (5xx).
  std::string ip =
      "550 5.7.1 [IP] Client address not authorized for this SMTP user. See {report_url}";
  // [policy] unauthenticated = "reject": there is no user, so no report to link.
  std::string unauthenticated = "550 5.7.1 Authentication required to send through this relay";
  // A monthly quota is used up: [quota] exhausted = "reject" (5xx) or "defer" (4xx).
  std::string quota =
      "550 5.7.1 [QUOTA] Monthly message quota used up: {count}/{max}; it renews next month";
  std::string quota_defer =
      "452 4.7.1 [QUOTA] Monthly message quota used up: {count}/{max}; it renews next month";
};

// [webhooks] (issue 20): where events go. Endpoints are [[webhooks.endpoints]] tables, parsed
// by config_webhooks.cc (they are a list, so not rows of the key table).
struct WebhookEndpoint {
  std::string name;    // [a-z0-9_-], 1-64: names its consumer group and retry state in Redis
  std::string url;     // http://host[:port]/path (core/http_client_wire.h ParseHttpUrl)
  std::string secret;  // HMAC-SHA256 key of X-Policyd-Signature; at least 16 bytes
  std::vector<std::string> events;  // event types (core/webhook_event.h) or "*"
};

struct WebhooksConfig {
  std::vector<WebhookEndpoint> endpoints;  // none: no deliveries (events are still written)
  // Delay before each retry; an event fails for good after the last one.
  std::vector<std::string> retry_delays = {"30s", "2m", "10m", "1h", "4h"};
  uint64_t timeout_ms = 10 * 1000;         // per delivery attempt: connect, send, status line
  uint64_t claim_after_ms = 60 * 1000;     // a pending event silent this long is taken over
  uint64_t poll_interval_ms = 1000;        // how often new events and due retries are looked for

  // retry_delays in milliseconds (ParseConfig has checked each).
  std::vector<uint64_t> RetryDelaysMs() const;
};

// Feedback loops (issue 18): the sender stamp policyd adds to accepted messages so that
// complaints and bounces can be credited (core/sender_stamp.h), and the Rspamd endpoint.
struct FeedbackConfig {
  std::string stamp_secret;                       // empty: no stamp header; else 16+ bytes
  std::string stamp_header = "X-Policyd-Sender";  // the header's name
  // Max age of a stamp the ingester credits: older feedback credits nobody.
  uint64_t stamp_max_age_ms = 30ull * 24 * 3600 * 1000;
  // Password (HTTP Basic, any user name) or bearer token Rspamd's metadata_exporter presents
  // on POST /api/v1/rspamd; empty: the endpoint is off.
  std::string rspamd_token;
};

enum class LogLevel { kDebug, kInfo, kWarning, kError };
enum class LogTarget { kStderr, kSyslog };
struct LogConfig {
  LogLevel level = LogLevel::kInfo;
  LogTarget target = LogTarget::kStderr;
};

struct Config {
  std::string path;  // the file it came from, for messages
  ServerConfig server;
  RedisConfig redis;
  FailureConfig failure;
  PolicyConfig policy;
  // By name. A file without any [plans] table gets one built-in plan, "default", with no
  // limits and allow_any_domain = false; a file with [plans] gets exactly the plans it defines.
  std::map<std::string, Plan> plans;
  AbuseConfig abuse;
  ReportConfig report;
  HttpConfig http;
  FeedbackConfig feedback;
  QuotaConfig quota;
  MessagesConfig messages;
  WebhooksConfig webhooks;
  LogConfig log;

  // The plan named `name`, or null. The pointer lives as long as this Config.
  const Plan* FindPlan(std::string_view name) const;
};

// Where policyd and policyctl read their configuration unless given -c FILE.
// A checkout's file by default; packages build with -DPOLICYD_DEFAULT_CONFIG=/etc/policyd/...
#ifndef POLICYD_DEFAULT_CONFIG
#define POLICYD_DEFAULT_CONFIG "conf/policyd.toml"
#endif
inline constexpr const char* kDefaultConfigPath = POLICYD_DEFAULT_CONFIG;

// Parses TOML text. On failure the Error's message holds one line per problem, each
// "path:line:column: key: what is wrong" (unknown keys, wrong types, out-of-range values,
// bad durations/sizes, reply templates that fail CheckReplyTemplate, cross-key rules such as
// an unknown default_plan). Never throws.
Result<Config> ParseConfig(std::string_view text, std::string_view path);

// Reads and parses a file; a missing or unreadable file is an Error naming it.
Result<Config> LoadConfigFile(const std::string& path);

// Keys whose change needs a restart (listen addresses, threads, http listen): SIGHUP keeps
// their old values and logs one line per changed key. Returns the names of changed keys.
std::vector<std::string> NonReloadableChanges(const Config& running, const Config& loaded);
// Copies the running values of those keys into loaded, so what runs is what reload applied.
void KeepNonReloadable(const Config& running, Config* loaded);

// "90s", "15m", "1h", "1d", "1w", "500ms" or a bare integer of seconds -> milliseconds.
Result<uint64_t> ParseDuration(std::string_view text);
// "2GiB", "10MB", "512KiB", "1000" -> bytes (KB/MB/GB = 1000^n, KiB/MiB/GiB = 1024^n).
Result<uint64_t> ParseSize(std::string_view text);
// 3600000 -> "1h", 90000 -> "90s", 1500 -> "1500ms": the shortest exact form, for messages.
std::string FormatDuration(uint64_t ms);

}  // namespace policyd
