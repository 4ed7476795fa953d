#include "core/config.h"

#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "config_test_util.h"

namespace policyd {
namespace {

using testing::Contains;
using testing::ErrorsOf;
using testing::ParseSnippet;

TEST_CASE("config: durations parse in every documented unit") {
  struct Case {
    std::string_view text;
    uint64_t ms;
  };
  const Case cases[] = {{"0", 0},           {"30", 30'000},      {"500ms", 500},
                        {"90s", 90'000},    {"15m", 900'000},    {"1h", 3'600'000},
                        {"1d", 86'400'000}, {"1w", 604'800'000}, {"0ms", 0}};
  for (const Case& c : cases) {
    CAPTURE(c.text);
    Result<uint64_t> ms = ParseDuration(c.text);
    REQUIRE(ms.ok());
    CHECK(*ms == c.ms);
  }
}

TEST_CASE("config: malformed durations are errors that show the expected forms") {
  const std::string_view bad[] = {"",   "h",   "1.5h",  "-1s", "1 h", "1H",
                                  "1y", "1hm", "1h30m", "s1",  " 1s", "99999999999999999999w"};
  for (std::string_view text : bad) {
    CAPTURE(text);
    Result<uint64_t> ms = ParseDuration(text);
    REQUIRE_FALSE(ms.ok());
    CHECK(Contains(ms.error().message, "duration"));
  }
}

TEST_CASE("config: sizes parse in decimal and binary units") {
  struct Case {
    std::string_view text;
    uint64_t bytes;
  };
  const Case cases[] = {{"0", 0},
                        {"1000", 1000},
                        {"10KB", 10'000},
                        {"10MB", 10'000'000},
                        {"1GB", 1'000'000'000},
                        {"512KiB", 512 * 1024},
                        {"64MiB", 64ull << 20},
                        {"2GiB", 2ull << 30},
                        {"1TiB", 1ull << 40},
                        {"2gib", 2ull << 30}};
  for (const Case& c : cases) {
    CAPTURE(c.text);
    Result<uint64_t> bytes = ParseSize(c.text);
    REQUIRE(bytes.ok());
    CHECK(*bytes == c.bytes);
  }
  const std::string_view bad[] = {"",      "GiB", "1.5GiB", "-1",
                                  "2 GiB", "2Gi", "2XB",    "99999999999TiB"};
  for (std::string_view text : bad) {
    CAPTURE(text);
    Result<uint64_t> bytes = ParseSize(text);
    REQUIRE_FALSE(bytes.ok());
    CHECK(Contains(bytes.error().message, "size"));
  }
}

TEST_CASE("config: FormatDuration gives the shortest exact form") {
  CHECK(FormatDuration(0) == "0s");
  CHECK(FormatDuration(1500) == "1500ms");
  CHECK(FormatDuration(90'000) == "90s");
  CHECK(FormatDuration(900'000) == "15m");
  CHECK(FormatDuration(3'600'000) == "1h");
  CHECK(FormatDuration(2 * 604'800'000ull) == "2w");
  CHECK(FormatDuration(1'100'000) == "1100s");
}

TEST_CASE("config: subject and metric names match the plan syntax") {
  CHECK(SubjectKindName(SubjectKind::kUser) == "user");
  CHECK(SubjectKindName(SubjectKind::kSender) == "sender");
  CHECK(SubjectKindName(SubjectKind::kAccount) == "account");
  CHECK(SubjectKindName(SubjectKind::kIp) == "ip");
  CHECK(MetricName(Metric::kMessages) == "messages");
  CHECK(MetricName(Metric::kRecipients) == "recipients");
  CHECK(MetricName(Metric::kBytes) == "bytes");
}

TEST_CASE("config: omitted tables keep the defaults from config.h") {
  Result<Config> config = ParseSnippet("");
  REQUIRE_MESSAGE(config.ok(), config.error().message);
  const Config defaults;
  CHECK(config->path == "t.toml");
  CHECK(config->server.listen == defaults.server.listen);
  CHECK(config->server.request_timeout_ms == 1000);
  CHECK(config->server.parser.max_request_bytes == 65536);
  CHECK(config->redis.url == defaults.redis.url);
  CHECK(config->policy.default_plan == "default");
  CHECK(config->abuse.weights == defaults.abuse.weights);
  CHECK(config->messages.rate == defaults.messages.rate);
  CHECK(config->http.listen.empty());
  // Without [plans], a built-in "default" plan with no limits exists.
  REQUIRE(config->plans.size() == 1);
  const Plan* plan = config->FindPlan("default");
  REQUIRE(plan != nullptr);
  CHECK(plan->limits.empty());
  CHECK_FALSE(plan->allow_any_domain);
  CHECK(config->FindPlan("starter") == nullptr);
}

TEST_CASE("config: values of every type are applied") {
  Result<Config> config = ParseSnippet(R"(
[server]
listen = ["[::1]:10040", "unix:/run/policyd.sock"]
max_request_bytes = 131072
request_timeout = "250ms"
idle_timeout = 0
threads = 4
[failure]
on_redis_error = "defer"
[policy]
count_at = "rcpt"
unauthenticated = "sender"
[abuse]
escalate = 3
score_threshold = 2.5
[abuse.weights]
spam = 0.5
[log]
level = "debug"
target = "syslog"
)");
  REQUIRE_MESSAGE(config.ok(), config.error().message);
  CHECK(config->server.listen == std::vector<std::string>{"[::1]:10040", "unix:/run/policyd.sock"});
  CHECK(config->server.parser.max_request_bytes == 131072);
  CHECK(config->server.request_timeout_ms == 250);
  CHECK(config->server.idle_timeout_ms == 0);
  CHECK(config->server.threads == 4);
  CHECK(config->failure.on_redis_error == FailureAction::kDefer);
  CHECK(config->policy.count_at == CountAt::kRcpt);
  CHECK(config->policy.unauthenticated == UnauthenticatedPolicy::kSender);
  CHECK(config->abuse.escalate == 3.0);
  CHECK(config->abuse.score_threshold == 2.5);
  CHECK(config->abuse.weights.at("spam") == 0.5);
  CHECK(config->abuse.weights.at("bounce") == 0.0);  // judged as a rate (issue 18)
  CHECK(config->log.level == LogLevel::kDebug);
  CHECK(config->log.target == LogTarget::kSyslog);
}

TEST_CASE("config: unknown key names its line and suggests the closest key") {
  std::string errors = ErrorsOf("[server]\nthreads = 2\nrequest_timout = \"1s\"\n");
  CHECK(Contains(errors, "t.toml:3:1: server.request_timout: unknown key"));
  CHECK(Contains(errors, "did you mean 'request_timeout'?"));
}

TEST_CASE("config: unknown key without a close match lists the table's keys") {
  std::string errors = ErrorsOf("[log]\ncolour = true\n");
  CHECK(Contains(errors, "t.toml:2:1: log.colour: unknown key, expected one of: level, target"));
}

TEST_CASE("config: unknown table suggests the closest table") {
  std::string errors = ErrorsOf("[sever]\nthreads = 2\n");
  CHECK(Contains(errors, "t.toml:1:"));
  CHECK(Contains(errors, "sever: unknown table, did you mean 'server'?"));
}

TEST_CASE("config: a key above every table names the tables that have it") {
  std::string errors = ErrorsOf("listen = [\"127.0.0.1:1\"]\n");
  CHECK(Contains(errors, "t.toml:1:1: listen: keys belong in a table"));
  CHECK(Contains(errors, "'server.listen'"));
  CHECK(Contains(errors, "'http.listen'"));
}

TEST_CASE("config: each kind of bad value names path, line, key and what is expected") {
  struct Case {
    std::string_view text;
    std::string_view expected;
  };
  const Case cases[] = {
      {"[server]\nthreads = \"2\"",
       "t.toml:2:11: server.threads: expected an integer, got a string"},
      {"[server]\nthreads = 100",
       "t.toml:2:11: server.threads: 100 is out of range, expected 0..64"},
      {"[server]\nrequest_timeout = \"200s\"",
       "t.toml:2:19: server.request_timeout: 200s is out of range, expected 10ms..100s"},
      {"[server]\nrequest_timeout = \"soon\"",
       "t.toml:2:19: server.request_timeout: 'soon' is not a duration"},
      {"[server]\nrequest_timeout = -1", "server.request_timeout: -1 is negative"},
      {"[server]\nmax_request_bytes = \"lots\"",
       "t.toml:2:21: server.max_request_bytes: 'lots' is not a size"},
      {"[server]\nmax_request_bytes = \"1GiB\"",
       "server.max_request_bytes: 1GiB is out of range, expected 1KiB..64MiB"},
      {"[server]\nlisten = \"127.0.0.1:1\"",
       "server.listen: expected an array of strings, got a string"},
      {"[server]\nlisten = [1]",
       "server.listen: expected an array of strings, got an integer in it"},
      {"[server]\nlisten = [\"localhost\"]",
       "t.toml:2:10: server.listen: 'localhost': expected host:port"},
      {"[server]\nlisten = []", "server.listen: is empty, expected at least one address"},
      {"[server]\nlisten = [\"127.0.0.1:1\", \"127.0.0.1:1\"]",
       "server.listen: '127.0.0.1:1' is listed twice"},
      {"[failure]\non_redis_error = \"tempfail\"",
       "t.toml:2:18: failure.on_redis_error: \"tempfail\" is not allowed, expected \"dunno\" or "
       "\"defer\""},
      {"[log]\nlevel = 3",
       "log.level: expected \"debug\" or \"info\" or \"warning\" or \"error\", got an integer"},
      {"[redis]\nurl = \"http://x\"",
       "t.toml:2:7: redis.url: redis url 'http://x': must start with"},
      {"[redis]\nkey_prefix = \"\"", "redis.key_prefix: must be 1 to 32 characters"},
      {"[redis]\nkey_prefix = \"p{d}:\"", "redis.key_prefix: 'p{d}:' has a space, brace"},
      {"[abuse]\nescalate = 0.5", "abuse.escalate: 0.5 is out of range, expected 1..1000"},
      {"[abuse]\nscore_threshold = 0", "abuse.score_threshold: 0 is out of range, expected > 0"},
      {"[abuse]\nscore_threshold = nan", "abuse.score_threshold: nan is not a number"},
      {"[abuse.weights]\nspam = -1", "abuse.weights.spam: -1 is out of range, expected 0..1000000"},
      {"[policy]\nbuckets = 1", "policy.buckets: 1 is out of range, expected 2..600"},
      {"[http]\napi_token = \"short\"", "http.api_token: too short"},
      {"[report]\nsecret = \"0123456789abcdef\"\nbase_url = \"ftp://x\"",
       "t.toml:3:12: report.base_url: 'ftp://x' is not a plain URL"},
      {"[report]\nsecret = \"0123456789abcdef\"\nbase_url = \"https://x/r?a=b\"",
       "report.base_url: 'https://x/r?a=b' is not a plain URL"},
      {"[report]\nsecret = \"0123456789abcdef\"\nlogo_url = \"javascript:alert(1)\"",
       "report.logo_url: 'javascript:alert(1)' is not a plain http:// or https:// URL"},
      {"[report]\nsecret = \"0123456789abcdef\"\nlogo_url = \"https://x/\\\"onload=\"",
       "report.logo_url: 'https://x/\"onload=' is not a plain http:// or https:// URL"},
      {"[report]\nsecret = \"0123456789abcdef\"\nsupport_url = \"mailto:a b\"",
       "report.support_url: 'mailto:a b' is not a plain http://, https:// or mailto: URL"},
      {"[report]\nsecret = \"0123456789abcdef\"\nrelay_name = \"\"",
       "report.relay_name: 1-100 characters, no control characters"},
      {"[report]\nsecret = \"short\"",
       "t.toml:2:10: report.secret: required, at least 16 characters"},
      {"[report]\nttl = \"1h\"", "t.toml:1:1: report.secret: required, at least 16 characters"},
      {"[server]\nmax_line_bytes = \"8KiB\"\nmax_request_bytes = \"4KiB\"",
       "t.toml:2:18: server.max_line_bytes: \"8KiB\" is more than server.max_request_bytes = "
       "\"4KiB\""},
      {"[redis]\nreconnect_min = \"10s\"",
       "redis.reconnect_min: \"10s\" is more than redis.reconnect_max"},
      {"[abuse]\nblock_for = \"60d\"",
       "abuse.block_for: \"60d\" is more than abuse.max_block = \"30d\""},
      {"server = 1", "t.toml:1:10: server: expected a table [server], got an integer"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    std::string errors = ErrorsOf(c.text);
    CHECK_MESSAGE(Contains(errors, c.expected), errors);
  }
}

TEST_CASE("config: reply templates are checked for their purpose") {
  // A rate-limit reply must be temporary (4xx); an ACL refusal permanent (5xx).
  CHECK(Contains(ErrorsOf("[messages]\nrate = \"550 5.7.1 Too many\""),
                 "t.toml:2:8: messages.rate: "));
  CHECK(Contains(ErrorsOf("[messages]\nacl = \"450 4.7.1 No\""), "t.toml:2:7: messages.acl: "));
  CHECK(Contains(ErrorsOf("[messages]\nabuse = \"550\""), "messages.abuse: "));
  CHECK(Contains(ErrorsOf("[messages]\ndefer = \"OK\""), "messages.defer: "));
  Result<Config> ok = ParseSnippet(
      "[messages]\nacl = \"554 5.7.1 Not your domain: {domain}\"\ndefer = \"451 4.3.0 Later\"\n");
  REQUIRE_MESSAGE(ok.ok(), ok.error().message);
  CHECK(ok->messages.acl == "554 5.7.1 Not your domain: {domain}");
}

TEST_CASE("config: a TOML syntax error names path, line and column") {
  Result<Config> config = ParseConfig("[server]\nthreads = = 2\n", "conf/x.toml");
  REQUIRE_FALSE(config.ok());
  CHECK(config.error().code == ErrorCode::kInvalid);
  CHECK(config.error().message.rfind("conf/x.toml:2:", 0) == 0);
}

TEST_CASE("config: all problems are reported at once, one per line, in file order") {
  std::string errors = ErrorsOf(R"([server]
threads = -1
bogus = 1
[redis]
url = "nope"
[log]
level = "loud"
)");
  std::vector<std::string> lines;
  for (size_t start = 0; start <= errors.size();) {
    size_t end = errors.find('\n', start);
    if (end == std::string::npos) end = errors.size();
    lines.push_back(errors.substr(start, end - start));
    start = end + 1;
  }
  REQUIRE(lines.size() == 4);
  CHECK(lines[0].rfind("t.toml:2:", 0) == 0);
  CHECK(Contains(lines[0], "server.threads"));
  CHECK(lines[1].rfind("t.toml:3:", 0) == 0);
  CHECK(Contains(lines[1], "server.bogus"));
  CHECK(lines[2].rfind("t.toml:5:", 0) == 0);
  CHECK(Contains(lines[2], "redis.url"));
  CHECK(lines[3].rfind("t.toml:7:", 0) == 0);
  CHECK(Contains(lines[3], "log.level"));
}

}  // namespace
}  // namespace policyd
