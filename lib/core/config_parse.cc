#include "core/config_parse.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "core/log_text.h"

namespace policyd {
namespace {

size_t EditDistance(std::string_view a, std::string_view b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diagonal = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      size_t above = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::string FormatBound(const ConfigKey& key, double bound) {
  switch (key.type) {
    case KeyType::kDuration:
      return FormatDuration(static_cast<uint64_t>(bound));
    case KeyType::kSize:
      return FormatSize(static_cast<uint64_t>(bound));
    default:
      return fmt::format("{}", bound);
  }
}

// Checks min/max for the numeric types; `shown` is the value as the operator wrote it.
std::string RangeProblem(const ConfigKey& key, double value, std::string_view shown) {
  bool low = key.min_exclusive ? value <= key.min : value < key.min;
  if (!low && value <= key.max) return "";
  if (std::isinf(key.max)) {
    return fmt::format("{} is out of range, expected {} {}", shown,
                       key.min_exclusive ? ">" : ">=", FormatBound(key, key.min));
  }
  return fmt::format("{} is out of range, expected {}..{}", shown, FormatBound(key, key.min),
                     FormatBound(key, key.max));
}

Error WrongType(std::string_view expected, const toml::node& node) {
  return Invalid(fmt::format("expected {}, got {}", expected, TomlTypeName(node)));
}

}  // namespace

void ConfigDiagnostics::Add(toml::source_position where, std::string_view key,
                            std::string_view what) {
  // Keys and values are echoed from the file: a "\n" in a TOML string must not split one
  // problem over two lines (found by test/fuzz/config_fuzz.cc).
  problems_.push_back({where, fmt::format("{}:{}:{}: {}: {}", path_, where.line, where.column,
                                          Printable(key), Printable(what))});
}

Error ConfigDiagnostics::ToError() const {
  std::vector<Problem> sorted = problems_;
  std::stable_sort(sorted.begin(), sorted.end(), [](const Problem& a, const Problem& b) {
    return a.where.line != b.where.line ? a.where.line < b.where.line
                                        : a.where.column < b.where.column;
  });
  std::string message;
  for (const Problem& problem : sorted) {
    if (!message.empty()) message += '\n';
    message += problem.text;
  }
  return Invalid(std::move(message));
}

toml::source_position PositionOf(const toml::node& node, toml::source_position fallback) {
  toml::source_position begin = node.source().begin;
  return begin.line > 0 ? begin : fallback;
}

std::string DidYouMean(std::string_view word, const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  size_t best_distance = 3;
  for (const std::string& candidate : candidates) {
    size_t distance = EditDistance(word, candidate);
    if (distance < best_distance) {
      best = &candidate;
      best_distance = distance;
    }
  }
  return best ? fmt::format("did you mean '{}'?", *best) : "";
}

std::string UnknownName(std::string_view what, std::string_view word,
                        const std::vector<std::string>& candidates) {
  std::string suggestion = DidYouMean(word, candidates);
  if (!suggestion.empty()) return fmt::format("unknown {}, {}", what, suggestion);
  return fmt::format("unknown {}, expected one of: {}", what, fmt::join(candidates, ", "));
}

std::string_view TomlTypeName(const toml::node& node) {
  switch (node.type()) {
    case toml::node_type::table:
      return "a table";
    case toml::node_type::array:
      return "an array";
    case toml::node_type::string:
      return "a string";
    case toml::node_type::integer:
      return "an integer";
    case toml::node_type::floating_point:
      return "a float";
    case toml::node_type::boolean:
      return "a boolean";
    case toml::node_type::date:
      return "a date";
    case toml::node_type::time:
      return "a time";
    case toml::node_type::date_time:
      return "a date-time";
    case toml::node_type::none:
      break;
  }
  return "nothing";
}

Result<uint64_t> DurationFromNode(const toml::node& node) {
  if (const auto* text = node.as_string()) return ParseDuration(text->get());
  if (const auto* number = node.as_integer()) {
    int64_t seconds = number->get();
    if (seconds < 0) return Invalid(fmt::format("{} is negative, expected a duration", seconds));
    if (static_cast<uint64_t>(seconds) > std::numeric_limits<uint64_t>::max() / 1000) {
      return Invalid(fmt::format("{} seconds is too long a duration", seconds));
    }
    return static_cast<uint64_t>(seconds) * 1000;
  }
  return WrongType("a duration such as \"90s\" or \"1h\", or integer seconds", node);
}

Result<uint64_t> SizeFromNode(const toml::node& node) {
  if (const auto* text = node.as_string()) return ParseSize(text->get());
  if (const auto* number = node.as_integer()) {
    if (number->get() < 0) return Invalid(fmt::format("{} is negative, expected a size", **number));
    return static_cast<uint64_t>(number->get());
  }
  return WrongType("a size such as \"64KiB\" or \"2GiB\", or integer bytes", node);
}

Result<KeyValue> ConvertValue(const ConfigKey& key, const toml::node& node) {
  std::string problem;
  switch (key.type) {
    case KeyType::kBool:
      if (const auto* flag = node.as_boolean()) return KeyValue(flag->get());
      return WrongType("true or false", node);
    case KeyType::kString:
      if (const auto* text = node.as_string()) return KeyValue(text->get());
      return WrongType("a string", node);
    case KeyType::kStringList: {
      const auto* array = node.as_array();
      if (!array) return WrongType("an array of strings", node);
      std::vector<std::string> list;
      for (const toml::node& item : *array) {
        const auto* text = item.as_string();
        if (!text) {
          return Invalid(
              fmt::format("expected an array of strings, got {} in it", TomlTypeName(item)));
        }
        list.push_back(text->get());
      }
      return KeyValue(std::move(list));
    }
    case KeyType::kEnum: {
      const auto* text = node.as_string();
      std::string expected;
      for (std::string_view name : key.allowed) {
        expected += fmt::format("{}\"{}\"", expected.empty() ? "" : " or ", name);
      }
      if (!text) return WrongType(expected, node);
      auto it = std::find(key.allowed.begin(), key.allowed.end(), text->get());
      if (it == key.allowed.end()) {
        return Invalid(fmt::format("\"{}\" is not allowed, expected {}", text->get(), expected));
      }
      return KeyValue(static_cast<int64_t>(it - key.allowed.begin()));
    }
    case KeyType::kInt: {
      const auto* number = node.as_integer();
      if (!number) return WrongType("an integer", node);
      problem = RangeProblem(key, static_cast<double>(number->get()), std::to_string(**number));
      if (!problem.empty()) return Invalid(problem);
      return KeyValue(number->get());
    }
    case KeyType::kDouble: {
      double value = 0;
      if (const auto* number = node.as_floating_point()) {
        value = number->get();
      } else if (const auto* integer = node.as_integer()) {
        value = static_cast<double>(integer->get());
      } else {
        return WrongType("a number", node);
      }
      if (std::isnan(value)) return Invalid("nan is not a number, expected a number");
      problem = RangeProblem(key, value, fmt::format("{}", value));
      if (!problem.empty()) return Invalid(problem);
      return KeyValue(value);
    }
    case KeyType::kDuration:
    case KeyType::kSize: {
      bool duration = key.type == KeyType::kDuration;
      auto value = duration ? DurationFromNode(node) : SizeFromNode(node);
      if (!value) return value.error();
      std::string shown = duration ? FormatDuration(*value) : FormatSize(*value);
      // 2^64 does not fit a double exactly; anything that large is out of range anyway.
      problem = RangeProblem(key, static_cast<double>(*value), shown);
      if (!problem.empty()) return Invalid(problem);
      return KeyValue(*value);
    }
  }
  return Invalid("unsupported key type");
}

}  // namespace policyd
