// [plans.NAME] tables: plan names are the operator's, so they are parsed here instead of
// through the key table.
#include <fmt/format.h>

#include <optional>

#include "core/config_parse.h"

namespace policyd {
namespace {

constexpr uint64_t kMinWindowMs = 1000;
constexpr uint64_t kMaxWindowMs = 30ull * 24 * 3600 * 1000;

bool ValidPlanName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char ch : name) {
    bool ok = (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
    if (!ok) return false;
  }
  return true;
}

// Looks a name up among an enum's names (index = enum value); reports the allowed set.
template <typename E, size_t N>
std::optional<E> ParseName(const toml::node& node, const std::string_view (&names)[N],
                           std::string* problem) {
  std::string expected;
  for (std::string_view name : names) {
    expected += fmt::format("{}\"{}\"", expected.empty() ? "" : " or ", name);
  }
  const auto* text = node.as_string();
  if (!text) {
    *problem = fmt::format("expected {}, got {}", expected, TomlTypeName(node));
    return std::nullopt;
  }
  for (size_t i = 0; i < N; ++i) {
    if (names[i] == text->get()) return static_cast<E>(i);
  }
  *problem = fmt::format("\"{}\" is not allowed, expected {}", text->get(), expected);
  return std::nullopt;
}

class PlanParser {
 public:
  PlanParser(ConfigDiagnostics& diag, Plan* plan, std::string key)
      : diag_(diag), plan_(plan), key_(std::move(key)) {}

  void ParseLimits(const toml::node& node) {
    const auto* array = node.as_array();
    if (!array) {
      diag_.Add(node.source().begin, key_ + ".limits",
                fmt::format("expected an array of {{ subject, metric, max, window }} tables, "
                            "got {}",
                            TomlTypeName(node)));
      return;
    }
    for (size_t i = 0; i < array->size(); ++i) {
      std::string key = fmt::format("{}.limits[{}]", key_, i);
      const toml::node& item = *array->get(i);
      toml::source_position where = PositionOf(item, node.source().begin);
      if (const auto* table = item.as_table()) {
        ParseLimit(*table, where, key);
      } else {
        diag_.Add(where, key,
                  fmt::format("expected a table such as {{ subject = \"user\", metric = "
                              "\"messages\", max = 500, window = \"1h\" }}, got {}",
                              TomlTypeName(item)));
      }
    }
  }

 private:
  void ParseLimit(const toml::table& table, toml::source_position where, const std::string& key) {
    static constexpr std::string_view kSubjects[] = {"user", "sender", "account", "ip"};
    static constexpr std::string_view kMetrics[] = {"messages", "recipients", "bytes"};
    static const std::vector<std::string> kFields = {"subject", "metric", "max", "window"};
    Limit limit;
    bool ok = true;
    for (auto&& [field, value] : table) {
      std::string field_key = fmt::format("{}.{}", key, field.str());
      toml::source_position at = PositionOf(value, where);
      std::string problem;
      if (field == "subject") {
        auto kind = ParseName<SubjectKind>(value, kSubjects, &problem);
        if (kind) limit.subject = *kind;
      } else if (field == "metric") {
        auto metric = ParseName<Metric>(value, kMetrics, &problem);
        if (metric) limit.metric = *metric;
      } else if (field == "max") {
        auto max = SizeFromNode(value);  // a size string reads well for bytes ("2GiB")
        if (!max) {
          problem = max.error().message;
        } else if (*max < 1) {
          problem = "0 is out of range, expected >= 1";
        } else {
          limit.max = *max;
        }
      } else if (field == "window") {
        auto window = DurationFromNode(value);
        if (!window) {
          problem = window.error().message;
        } else if (*window < kMinWindowMs || *window > kMaxWindowMs) {
          problem = fmt::format("{} is out of range, expected 1s..30d", FormatDuration(*window));
        } else {
          limit.window_ms = *window;
        }
      } else {
        problem = UnknownName("key", field.str(), kFields);
      }
      if (!problem.empty()) {
        diag_.Add(at, field_key, problem);
        ok = false;
      }
    }
    for (const std::string& field : kFields) {
      if (!table.contains(field)) {
        diag_.Add(where, key,
                  fmt::format("missing '{}', every limit needs subject, metric, "
                              "max and window",
                              field));
        ok = false;
      }
    }
    if (!ok) return;
    for (size_t i = 0; i < plan_->limits.size(); ++i) {
      const Limit& other = plan_->limits[i];
      if (other.subject == limit.subject && other.metric == limit.metric &&
          other.window_ms == limit.window_ms) {
        diag_.Add(where, key,
                  fmt::format("repeats the {} {} per {} limit, expected one limit per subject, "
                              "metric and window",
                              SubjectKindName(limit.subject), MetricName(limit.metric),
                              FormatDuration(limit.window_ms)));
        return;
      }
    }
    plan_->limits.push_back(limit);
  }

  ConfigDiagnostics& diag_;
  Plan* plan_;
  std::string key_;
};

}  // namespace

void ParsePlans(const toml::node& node, ConfigDiagnostics& diag,
                std::map<std::string, Plan>* plans) {
  const auto* table = node.as_table();
  if (!table) {
    diag.Add(node.source().begin, "plans",
             fmt::format("expected tables such as [plans.starter], got {}", TomlTypeName(node)));
    return;
  }
  static const std::vector<std::string> kPlanKeys = {"allow_any_domain", "limits"};
  for (auto&& [name, plan_node] : *table) {
    std::string key = fmt::format("plans.{}", name.str());
    toml::source_position where = PositionOf(plan_node, name.source().begin);
    if (!ValidPlanName(name.str())) {
      diag.Add(name.source().begin, key, "bad plan name, expected 1 to 64 of a-z 0-9 _ -");
    }
    const auto* plan_table = plan_node.as_table();
    if (!plan_table) {
      diag.Add(where, key,
               fmt::format("expected a table [{}], got {}", key, TomlTypeName(plan_node)));
      continue;
    }
    Plan plan;
    plan.name = name.str();
    PlanParser parser(diag, &plan, key);
    for (auto&& [field, value] : *plan_table) {
      toml::source_position at = PositionOf(value, where);
      if (field == "allow_any_domain") {
        if (const auto* flag = value.as_boolean()) {
          plan.allow_any_domain = flag->get();
        } else {
          diag.Add(at, key + ".allow_any_domain",
                   fmt::format("expected true or false, got {}", TomlTypeName(value)));
        }
      } else if (field == "limits") {
        parser.ParseLimits(value);
      } else {
        diag.Add(field.source().begin, fmt::format("{}.{}", key, field.str()),
                 UnknownName("key", field.str(), kPlanKeys));
      }
    }
    (*plans)[plan.name] = std::move(plan);
  }
}

}  // namespace policyd
