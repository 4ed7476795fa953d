// [plans.NAME], the plan references in [policy], and reload rules.
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "config_test_util.h"
#include "core/config.h"

namespace policyd {
namespace {

using testing::Contains;
using testing::ErrorsOf;
using testing::ParseSnippet;

constexpr std::string_view kStarter = R"([plans.starter]
allow_any_domain = false
limits = [
  { subject = "user",    metric = "messages",   max = 500,     window = "1h" },
  { subject = "user",    metric = "recipients", max = 2000,    window = 3600 },
  { subject = "account", metric = "bytes",      max = "2GiB",  window = "1d" },
  { subject = "ip",      metric = "messages",   max = "10KB",  window = "90s" },
]
[plans.business]
allow_any_domain = true
[policy]
default_plan = "starter"
unknown_user = "business"
)";

TEST_CASE("config: plans parse limits, including sizes such as 2GiB") {
  Result<Config> config = ParseSnippet(kStarter);
  REQUIRE_MESSAGE(config.ok(), config.error().message);
  CHECK(config->plans.size() == 2);  // no built-in "default" once [plans] exists
  CHECK(config->FindPlan("default") == nullptr);
  const Plan* starter = config->FindPlan("starter");
  REQUIRE(starter != nullptr);
  CHECK(starter->name == "starter");
  CHECK_FALSE(starter->allow_any_domain);
  REQUIRE(starter->limits.size() == 4);
  CHECK(starter->limits[0].subject == SubjectKind::kUser);
  CHECK(starter->limits[0].metric == Metric::kMessages);
  CHECK(starter->limits[0].max == 500);
  CHECK(starter->limits[0].window_ms == 3'600'000);
  CHECK(starter->limits[1].metric == Metric::kRecipients);
  CHECK(starter->limits[1].window_ms == 3'600'000);
  CHECK(starter->limits[2].subject == SubjectKind::kAccount);
  CHECK(starter->limits[2].metric == Metric::kBytes);
  CHECK(starter->limits[2].max == 2ull << 30);
  CHECK(starter->limits[2].window_ms == 86'400'000);
  CHECK(starter->limits[3].subject == SubjectKind::kIp);
  CHECK(starter->limits[3].max == 10'000);
  CHECK(starter->limits[3].window_ms == 90'000);
  const Plan* business = config->FindPlan("business");
  REQUIRE(business != nullptr);
  CHECK(business->allow_any_domain);
  CHECK(business->limits.empty());
  CHECK(config->policy.default_plan == "starter");
  CHECK(config->policy.unknown_user == "business");
}

TEST_CASE("config: malformed plans and limits name the plan, the limit and the problem") {
  struct Case {
    std::string_view text;
    std::string_view expected;
  };
  const Case cases[] = {
      {"[plans.Gold]\n[policy]\ndefault_plan = \"Gold\"",
       "t.toml:1:8: plans.Gold: bad plan name, expected 1 to 64 of a-z 0-9 _ -"},
      {"[plans.default]\nallow_any_domain = \"yes\"",
       "t.toml:2:20: plans.default.allow_any_domain: expected true or false, got a string"},
      {"[plans.default]\nlimit = []", "plans.default.limit: unknown key, did you mean 'limits'?"},
      {"[plans.default]\nlimits = 5", "plans.default.limits: expected an array"},
      {"[plans.default]\nlimits = [5]", "plans.default.limits[0]: expected a table"},
      {"[plans.default]\nlimits = [{ subject = \"user\", metric = \"messages\", max = 5 }]",
       "t.toml:2:11: plans.default.limits[0]: missing 'window'"},
      {"[plans.default]\nlimits = [\n{ subject = \"domain\", metric = \"messages\", max = 5, "
       "window = \"1h\" }]",
       "t.toml:3:13: plans.default.limits[0].subject: \"domain\" is not allowed, expected "
       "\"user\" or \"sender\" or \"account\" or \"ip\""},
      {"[plans.default]\nlimits = [{ subject = \"user\", metric = \"mails\", max = 5, window = "
       "\"1h\" }]",
       "plans.default.limits[0].metric: \"mails\" is not allowed"},
      {"[plans.default]\nlimits = [{ subject = \"user\", metric = \"bytes\", max = 0, window = "
       "\"1h\" }]",
       "plans.default.limits[0].max: 0 is out of range, expected >= 1"},
      {"[plans.default]\nlimits = [{ subject = \"user\", metric = \"bytes\", max = \"2 GiB\", "
       "window = \"1h\" }]",
       "plans.default.limits[0].max: '2 GiB' is not a size"},
      {"[plans.default]\nlimits = [{ subject = \"user\", metric = \"bytes\", max = 1, window = "
       "\"500ms\" }]",
       "plans.default.limits[0].window: 500ms is out of range, expected 1s..30d"},
      {"[plans.default]\nlimits = [{ subject = \"user\", metric = \"bytes\", max = 1, window = "
       "\"31d\" }]",
       "plans.default.limits[0].window: 31d is out of range, expected 1s..30d"},
      {"[plans.default]\nlimits = [{ subject = \"user\", metric = \"bytes\", max = 1, window = "
       "\"1h\", windw = 1 }]",
       "plans.default.limits[0].windw: unknown key, did you mean 'window'?"},
      {"[plans.default]\nlimits = [\n"
       "  { subject = \"user\", metric = \"messages\", max = 5, window = \"1h\" },\n"
       "  { subject = \"user\", metric = \"messages\", max = 9, window = 3600 },\n]",
       "t.toml:4:3: plans.default.limits[1]: repeats the user messages per 1h limit"},
      {"plans = 3", "plans: expected tables such as [plans.starter], got an integer"},
      {"[plans.default]\n[policy]\ndefault_plan = \"gold\"",
       "t.toml:3:16: policy.default_plan: 'gold' is not a defined plan, expected one of "
       "'default'"},
      {"[plans.a]\n[plans.b]\n[policy]\nunknown_user = \"c\"",
       "policy.unknown_user: 'c' is neither \"dunno\", \"reject\" nor a defined plan, expected "
       "\"dunno\", \"reject\" or one of 'a', 'b'"},
      // [plans] present but empty: the built-in "default" no longer exists.
      {"[plans]",
       "t.toml:1:1: policy.default_plan: 'default' is not a defined plan, expected "
       "a plan defined as [plans.NAME]"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    std::string errors = ErrorsOf(c.text);
    CHECK_MESSAGE(Contains(errors, c.expected), errors);
  }
}

TEST_CASE("config: unknown_user may be dunno, reject or a defined plan") {
  for (std::string_view value : {"dunno", "reject", "default"}) {
    CAPTURE(value);
    Result<Config> config =
        ParseSnippet(std::string("[policy]\nunknown_user = \"") + std::string(value) + "\"\n");
    CHECK_MESSAGE(config.ok(), (config.ok() ? "" : config.error().message));
  }
}

TEST_CASE("config: NonReloadableChanges lists only restart-only keys that changed") {
  Result<Config> running = ParseSnippet("[server]\nthreads = 2\n");
  REQUIRE(running.ok());
  Result<Config> same = ParseSnippet("[server]\nthreads = 2\nrequest_timeout = \"2s\"\n");
  REQUIRE(same.ok());
  CHECK(NonReloadableChanges(*running, *same).empty());

  Result<Config> changed = ParseSnippet(
      "[server]\nthreads = 4\nlisten = [\"127.0.0.1:10050\"]\n[http]\nlisten = "
      "[\"127.0.0.1:8080\"]\n[redis]\nkey_prefix = \"x:\"\n");
  REQUIRE_MESSAGE(changed.ok(), changed.error().message);
  CHECK(NonReloadableChanges(*running, *changed) ==
        std::vector<std::string>{"server.listen", "server.threads", "http.listen"});
}

TEST_CASE("config: LoadConfigFile names a missing file") {
  Result<Config> config = LoadConfigFile("/nonexistent/policyd.toml");
  REQUIRE_FALSE(config.ok());
  CHECK(config.error().code == ErrorCode::kNotFound);
  CHECK(Contains(config.error().message, "/nonexistent/policyd.toml: cannot open"));
}

}  // namespace
}  // namespace policyd
