#include "core/config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <set>

#include "core/config_keys.h"
#include "core/config_parse.h"
#include "core/log_text.h"
#include "core/redis_url.h"

// ParseConfig turns toml::parse_error into an Error; without exceptions toml++ would return a
// parse_result instead and this file would need a different shape.
static_assert(TOML_EXCEPTIONS, "toml++ must be built with exceptions");

namespace policyd {
namespace {

// A config file is a few KiB; the cap keeps a wrong -c argument (a log, a disk image) cheap.
constexpr size_t kMaxConfigFileBytes = 1 << 20;

// Walks the TOML tree once, applying each known key through its table row and recording every
// problem, then runs the checks that need the final values (required keys, cross-key rules).
class ConfigParser {
 public:
  explicit ConfigParser(std::string_view path) : path_(path), diag_(path) {}

  Result<Config> Run(const toml::table& root) {
    Walk(root, "");
    // DESIGN §6: a file without [plans] still has a plan to name in default_plan.
    if (!saw_plans_) config_.plans["default"].name = "default";
    CheckKeys();
    CheckPlanReferences();
    CheckRedisCluster();
    CheckOrder("server.max_line_bytes", "server.max_request_bytes");
    CheckOrder("redis.reconnect_min", "redis.reconnect_max");
    CheckOrder("abuse.block_for", "abuse.max_block");
    CheckOrder("webhooks.timeout", "webhooks.claim_after");  // else a slow attempt is claimed
    if (!diag_.empty()) return diag_.ToError();
    config_.path = path_;
    return std::move(config_);
  }

 private:
  void Walk(const toml::table& table, const std::string& prefix) {
    for (auto&& [key, node] : table) {
      std::string name =
          prefix.empty() ? std::string(key.str()) : fmt::format("{}.{}", prefix, key.str());
      toml::source_position at = PositionOf(node, key.source().begin);
      where_[name] = at;
      if (name == "plans") {
        saw_plans_ = true;
        ParsePlans(node, diag_, &config_.plans);
      } else if (name == "webhooks.endpoints") {
        ParseWebhookEndpoints(node, diag_, &config_.webhooks.endpoints);
      } else if (const ConfigKey* row = FindConfigKey(name)) {
        Apply(*row, node, at);
      } else if (!IsConfigSection(name)) {
        ReportUnknown(name, prefix, key, node);
      } else if (const auto* section = node.as_table()) {
        Walk(*section, name);
      } else {
        diag_.Add(at, name, fmt::format("expected a table [{}], got {}", name, TomlTypeName(node)));
      }
    }
  }

  void Apply(const ConfigKey& row, const toml::node& node, toml::source_position at) {
    Result<KeyValue> value = ConvertValue(row, node);
    if (!value) {
      diag_.Add(at, row.name, value.error().message);
      failed_.insert(std::string(row.name));
      return;
    }
    row.set(config_, *value);
  }

  void ReportUnknown(const std::string& name, const std::string& prefix, const toml::key& key,
                     const toml::node& node) {
    if (prefix.empty() && !node.is_table()) {
      // "listen = ..." above every table header: name the tables that have such a key.
      std::vector<std::string> homes;
      for (const ConfigKey& row : ConfigKeys()) {
        if (row.leaf() == key.str()) homes.push_back(fmt::format("'{}'", row.name));
      }
      if (!homes.empty()) {
        diag_.Add(
            key.source().begin, name,
            fmt::format("keys belong in a table, did you mean {}?", fmt::join(homes, " or ")));
        return;
      }
    }
    std::vector<std::string> candidates;  // the names that may appear in table `prefix`
    if (prefix.empty()) candidates.push_back("plans");
    if (prefix == "webhooks") candidates.push_back("endpoints");
    for (const ConfigKey& row : ConfigKeys()) {
      std::string_view section = row.section();
      std::string_view child;
      if (section == prefix) {
        child = row.leaf();
      } else if (prefix.empty()) {
        child = section.substr(0, section.find('.'));
      } else if (section.starts_with(prefix + ".")) {
        child = section.substr(prefix.size() + 1);
        child = child.substr(0, child.find('.'));
      }
      if (child.empty()) continue;
      if (std::find(candidates.begin(), candidates.end(), child) == candidates.end()) {
        candidates.emplace_back(child);
      }
    }
    diag_.Add(key.source().begin, name,
              UnknownName(node.is_table() ? "table" : "key", key.str(), candidates));
  }

  // Where a problem with `name` is reported: the key itself, else its nearest enclosing table
  // that appears in the file, else the top of the file.
  toml::source_position PositionOfName(std::string_view name) const {
    std::string current(name);
    while (true) {
      if (auto it = where_.find(current); it != where_.end()) return it->second;
      size_t dot = current.rfind('.');
      if (dot == std::string::npos) return {1, 1};
      current.resize(dot);
    }
  }

  void CheckKeys() {
    for (const ConfigKey& row : ConfigKeys()) {
      if (!row.check || failed_.count(std::string(row.name))) continue;
      std::string problem = row.check(row.get(config_));
      if (!problem.empty()) diag_.Add(PositionOfName(row.name), row.name, problem);
    }
  }

  std::string PlanNames() const {
    std::vector<std::string> names;
    for (const auto& [name, plan] : config_.plans) names.push_back(fmt::format("'{}'", name));
    return names.empty() ? "a plan defined as [plans.NAME]"
                         : fmt::format("one of {}", fmt::join(names, ", "));
  }

  void CheckPlanReferences() {
    const PolicyConfig& policy = config_.policy;
    if (!failed_.count("policy.default_plan") && !config_.FindPlan(policy.default_plan)) {
      diag_.Add(
          PositionOfName("policy.default_plan"), "policy.default_plan",
          fmt::format("'{}' is not a defined plan, expected {}", policy.default_plan, PlanNames()));
    }
    const std::string& unknown = policy.unknown_user;
    if (!failed_.count("policy.unknown_user") && unknown != "dunno" && unknown != "reject" &&
        !config_.FindPlan(unknown)) {
      diag_.Add(PositionOfName("policy.unknown_user"), "policy.unknown_user",
                fmt::format("'{}' is neither \"dunno\", \"reject\" nor a defined plan, expected "
                            "\"dunno\", \"reject\" or {}",
                            unknown, PlanNames()));
    }
  }

  // Cluster, Sentinel and one Redis are three ways to say where Redis is; only one may be
  // meant. With cluster, url may still carry the username and password every node shares, so
  // only its host, port and db must stay as they default (a cluster has only database 0).
  void CheckRedisCluster() {
    const RedisConfig& redis = config_.redis;
    if (redis.cluster.empty() || failed_.count("redis.cluster")) return;
    if (!redis.sentinels.empty() && !failed_.count("redis.sentinels")) {
      diag_.Add(PositionOfName("redis.cluster"), "redis.cluster",
                "set together with redis.sentinels, expected one of them: cluster for Redis "
                "Cluster, sentinels for one primary with Sentinel failover");
    }
    if (failed_.count("redis.url")) return;
    Result<RedisEndpoint> url = ParseRedisUrl(redis.url);
    Result<RedisEndpoint> fallback = ParseRedisUrl(RedisConfig{}.url);
    if (url.ok() && (url->IsUnix() || url->host != fallback->host || url->port != fallback->port ||
                     url->db != 0)) {
      diag_.Add(PositionOfName("redis.url"), "redis.url",
                fmt::format("names a Redis ({}) while redis.cluster is set, expected only a "
                            "password with cluster, e.g. \"redis://:PASSWORD@127.0.0.1:6379/0\" "
                            "(the nodes come from cluster's seeds and their slot map; a cluster "
                            "has only db 0)",
                            url->Describe()));
    }
  }

  // Reports `low` when its value exceeds `high`'s (both durations or both sizes).
  void CheckOrder(std::string_view low, std::string_view high) {
    if (failed_.count(std::string(low)) || failed_.count(std::string(high))) return;
    const ConfigKey* low_key = FindConfigKey(low);
    const ConfigKey* high_key = FindConfigKey(high);
    KeyValue low_value = low_key->get(config_), high_value = high_key->get(config_);
    if (std::get<uint64_t>(low_value) <= std::get<uint64_t>(high_value)) return;
    diag_.Add(PositionOfName(low), low,
              fmt::format("{} is more than {} = {}, expected at most that",
                          FormatKeyValue(*low_key, low_value), high,
                          FormatKeyValue(*high_key, high_value)));
  }

  std::string path_;
  ConfigDiagnostics diag_;
  Config config_;
  bool saw_plans_ = false;
  std::map<std::string, toml::source_position, std::less<>> where_;
  std::set<std::string> failed_;  // keys whose value was rejected; later checks skip them
};

}  // namespace

const Plan* Config::FindPlan(std::string_view name) const {
  auto it = plans.find(std::string(name));
  return it == plans.end() ? nullptr : &it->second;
}

Result<Config> ParseConfig(std::string_view text, std::string_view path) {
  toml::table root;
  try {
    root = toml::parse(text, path);
  } catch (const toml::parse_error& e) {
    return Invalid(fmt::format("{}:{}:{}: {}", path, e.source().begin.line, e.source().begin.column,
                               Printable(e.description())));
  }
  return ConfigParser(path).Run(root);
}

Result<Config> LoadConfigFile(const std::string& path) {
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (!file) {
    int error = errno;
    return Error{error == ENOENT ? ErrorCode::kNotFound : ErrorCode::kInvalid,
                 fmt::format("{}: cannot open: {}", path, std::strerror(error))};
  }
  std::string text;
  char buffer[16384];
  size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, file)) > 0 &&
         text.size() <= kMaxConfigFileBytes) {
    text.append(buffer, got);
  }
  bool failed = std::ferror(file);
  int error = errno;
  std::fclose(file);
  if (failed) return Invalid(fmt::format("{}: cannot read: {}", path, std::strerror(error)));
  if (text.size() > kMaxConfigFileBytes) {
    return Error{
        ErrorCode::kTooLarge,
        fmt::format("{}: larger than {} bytes, expected a config file", path, kMaxConfigFileBytes)};
  }
  return ParseConfig(text, path);
}

std::vector<std::string> NonReloadableChanges(const Config& running, const Config& loaded) {
  std::vector<std::string> changed;
  for (const ConfigKey& row : ConfigKeys()) {
    if (!row.reloadable && row.get(running) != row.get(loaded)) changed.emplace_back(row.name);
  }
  return changed;
}

void KeepNonReloadable(const Config& running, Config* loaded) {
  for (const ConfigKey& row : ConfigKeys()) {
    if (!row.reloadable) row.set(*loaded, row.get(running));
  }
}

}  // namespace policyd
