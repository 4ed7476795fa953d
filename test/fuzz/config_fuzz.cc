// Fuzzes ParseConfig with arbitrary TOML text (seeds: conf/policyd.toml and variants).
// Invariants, beyond "no crash and no exception out of ParseConfig":
//  - a rejected file gets one "path:line:column: ..." line per problem;
//  - an accepted config re-validates: every key's check passes on the final values, the
//    cross-key rules hold (orders, plan references), plans are well-formed;
//  - round trip: the accepted config written back as TOML (every key through FormatKeyValue,
//    plans as limit tables) parses again to the same values, key by key and plan by plan.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "core/config.h"
#include "core/config_keys.h"
#include "core/reply_template.h"
#include "fuzz_check.h"

namespace policyd {
namespace {

constexpr std::string_view kPath = "fuzz.toml";

// The config as TOML text that ParseConfig reads back: the writer a round trip needs.
std::string ToToml(const Config& config) {
  std::map<std::string, std::string, std::less<>> sections;
  for (const ConfigKey& key : ConfigKeys()) {
    sections[std::string(key.section())] +=
        fmt::format("{} = {}\n", key.leaf(), FormatKeyValue(key, key.get(config)));
  }
  std::string out;
  for (const auto& [name, body] : sections) out += fmt::format("[{}]\n{}", name, body);
  for (const auto& [name, plan] : config.plans) {
    out += fmt::format("[plans.{}]\nallow_any_domain = {}\nlimits = [\n", name,
                       plan.allow_any_domain);
    for (const Limit& l : plan.limits) {
      out += fmt::format("  {{ subject = \"{}\", metric = \"{}\", max = {}, window = \"{}\" }},\n",
                         SubjectKindName(l.subject), MetricName(l.metric), l.max,
                         FormatDuration(l.window_ms));
    }
    out += "]\n";
  }
  return out;
}

bool SameLimit(const Limit& a, const Limit& b) {
  return a.subject == b.subject && a.metric == b.metric && a.max == b.max &&
         a.window_ms == b.window_ms;
}

void CheckValid(const Config& c) {
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.check) FUZZ_CHECK(key.check(key.get(c)).empty());
  }
  FUZZ_CHECK(c.server.parser.max_line_bytes <= c.server.parser.max_request_bytes);
  FUZZ_CHECK(c.redis.reconnect_min_ms <= c.redis.reconnect_max_ms);
  FUZZ_CHECK(c.abuse.block_for_ms <= c.abuse.max_block_ms);
  FUZZ_CHECK(c.FindPlan(c.policy.default_plan) != nullptr);
  const std::string& unknown = c.policy.unknown_user;
  FUZZ_CHECK(unknown == "dunno" || unknown == "reject" || c.FindPlan(unknown) != nullptr);
  FUZZ_CHECK(c.report.secret.size() >= 16);
  FUZZ_CHECK(CheckReplyTemplate(c.messages.acl, TemplatePurpose::kReject).ok());
  FUZZ_CHECK(CheckReplyTemplate(c.messages.abuse, TemplatePurpose::kReject).ok());
  FUZZ_CHECK(CheckReplyTemplate(c.messages.unauthenticated, TemplatePurpose::kReject).ok());
  FUZZ_CHECK(CheckReplyTemplate(c.messages.rate, TemplatePurpose::kDefer).ok());
  FUZZ_CHECK(CheckReplyTemplate(c.messages.defer, TemplatePurpose::kDefer).ok());
  FUZZ_CHECK(!c.plans.empty());
  for (const auto& [name, plan] : c.plans) {
    FUZZ_CHECK(name == plan.name && !name.empty() && name.size() <= 64);
    for (std::size_t i = 0; i < plan.limits.size(); ++i) {
      const Limit& l = plan.limits[i];
      FUZZ_CHECK(l.max >= 1 && l.window_ms >= 1000 && l.window_ms <= 30ull * 86400 * 1000);
      for (std::size_t j = 0; j < i; ++j) {
        const Limit& o = plan.limits[j];
        FUZZ_CHECK(!(o.subject == l.subject && o.metric == l.metric &&
                     o.window_ms == l.window_ms));
      }
    }
  }
}

}  // namespace
}  // namespace policyd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace policyd;
  std::string_view text(reinterpret_cast<const char*>(data), size);
  Result<Config> config = ParseConfig(text, kPath);
  if (!config.ok()) {
    const std::string& message = config.error().message;
    FUZZ_CHECK(!message.empty());
    for (std::size_t at = 0; at < message.size();) {
      FUZZ_CHECK(std::string_view(message).substr(at).starts_with("fuzz.toml:"));
      std::size_t lf = message.find('\n', at);
      at = lf == std::string::npos ? message.size() : lf + 1;
    }
    return 0;
  }
  CheckValid(*config);
  std::string again_text = ToToml(*config);
  Result<Config> again = ParseConfig(again_text, "again.toml");
  if (!again.ok()) {
    std::fprintf(stderr, "round trip failed:\n%s\n--- written ---\n%s\n",
                 again.error().message.c_str(), again_text.c_str());
  }
  FUZZ_CHECK(again.ok());
  for (const ConfigKey& key : ConfigKeys()) {
    if (key.get(*config) != key.get(*again)) {
      std::fprintf(stderr, "key %.*s: %s became %s\n", static_cast<int>(key.name.size()),
                   key.name.data(), FormatKeyValue(key, key.get(*config)).c_str(),
                   FormatKeyValue(key, key.get(*again)).c_str());
    }
    FUZZ_CHECK(key.get(*config) == key.get(*again));
  }
  FUZZ_CHECK(config->plans.size() == again->plans.size());
  for (const auto& [name, plan] : config->plans) {
    const Plan* other = again->FindPlan(name);
    FUZZ_CHECK(other != nullptr);
    FUZZ_CHECK(plan.allow_any_domain == other->allow_any_domain);
    FUZZ_CHECK(plan.limits.size() == other->limits.size());
    for (std::size_t i = 0; i < plan.limits.size(); ++i) {
      FUZZ_CHECK(SameLimit(plan.limits[i], other->limits[i]));
    }
  }
  FUZZ_CHECK(NonReloadableChanges(*config, *again).empty());
  return 0;
}
