// Units of config values: durations, sizes, the names of limit subjects and metrics, and
// values formatted back into TOML for messages and docs.
#include <fmt/format.h>

#include <cctype>
#include <charconv>
#include <limits>
#include <utility>

#include "core/config.h"
#include "core/config_keys.h"

namespace policyd {
namespace {

constexpr uint64_t kMaxU64 = std::numeric_limits<uint64_t>::max();

// Splits "90s" into 90 and "s". Leading digits only: no sign, no fraction, no spaces.
bool SplitNumber(std::string_view text, uint64_t* number, std::string_view* unit) {
  size_t digits = 0;
  while (digits < text.size() && text[digits] >= '0' && text[digits] <= '9') ++digits;
  if (digits == 0) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + digits, *number);
  if (ec != std::errc() || end != text.data() + digits) return false;
  *unit = text.substr(digits);
  return true;
}

bool MultiplyFits(uint64_t value, uint64_t factor, uint64_t* out) {
  if (factor != 0 && value > kMaxU64 / factor) return false;
  *out = value * factor;
  return true;
}

bool EqualsNoCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) !=
        std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

std::string QuoteToml(std::string_view text) {
  std::string out = "\"";
  for (char ch : text) {
    if (ch == '"' || ch == '\\') {
      out += '\\';
      out += ch;
    } else if (static_cast<unsigned char>(ch) < 0x20 || ch == 0x7f) {
      out += fmt::format("\\u{:04X}", static_cast<unsigned char>(ch));
    } else {
      out += ch;
    }
  }
  return out + "\"";
}

}  // namespace

std::string_view SubjectKindName(SubjectKind kind) {
  switch (kind) {
    case SubjectKind::kUser:
      return "user";
    case SubjectKind::kSender:
      return "sender";
    case SubjectKind::kAccount:
      return "account";
    case SubjectKind::kIp:
      return "ip";
  }
  return "?";
}

std::string_view MetricName(Metric metric) {
  switch (metric) {
    case Metric::kMessages:
      return "messages";
    case Metric::kRecipients:
      return "recipients";
    case Metric::kBytes:
      return "bytes";
  }
  return "?";
}

Result<uint64_t> ParseDuration(std::string_view text) {
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"", 1000},       {"ms", 1},         {"s", 1000},       {"m", 60'000},
      {"h", 3'600'000}, {"d", 86'400'000}, {"w", 604'800'000}};
  uint64_t number = 0, ms = 0;
  std::string_view unit;
  if (SplitNumber(text, &number, &unit)) {
    for (const auto& [suffix, factor] : kUnits) {
      if (unit != suffix) continue;
      if (!MultiplyFits(number, factor, &ms)) {
        return Invalid(fmt::format("'{}' is too long a duration", text));
      }
      return ms;
    }
  }
  return Invalid(fmt::format(
      "'{}' is not a duration, expected e.g. \"500ms\", \"90s\", \"15m\", \"1h\", \"1d\", \"1w\" "
      "or integer seconds",
      text));
}

Result<uint64_t> ParseSize(std::string_view text) {
  // Unit names are matched without case: "KiB" vs "KB" differ by the 'i', not by case.
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {{"", 1},
                                                                     {"KB", 1000},
                                                                     {"MB", 1'000'000},
                                                                     {"GB", 1'000'000'000},
                                                                     {"TB", 1'000'000'000'000},
                                                                     {"KiB", 1ull << 10},
                                                                     {"MiB", 1ull << 20},
                                                                     {"GiB", 1ull << 30},
                                                                     {"TiB", 1ull << 40}};
  uint64_t number = 0, bytes = 0;
  std::string_view unit;
  if (SplitNumber(text, &number, &unit)) {
    for (const auto& [suffix, factor] : kUnits) {
      if (!EqualsNoCase(unit, suffix)) continue;
      if (!MultiplyFits(number, factor, &bytes)) {
        return Invalid(fmt::format("'{}' is too large a size", text));
      }
      return bytes;
    }
  }
  return Invalid(fmt::format(
      "'{}' is not a size, expected e.g. \"512KiB\", \"10MB\", \"2GiB\" or integer bytes", text));
}

std::string FormatDuration(uint64_t ms) {
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"w", 604'800'000}, {"d", 86'400'000}, {"h", 3'600'000}, {"m", 60'000}, {"s", 1000}};
  if (ms == 0) return "0s";
  for (const auto& [suffix, factor] : kUnits) {
    if (ms % factor == 0) return fmt::format("{}{}", ms / factor, suffix);
  }
  return fmt::format("{}ms", ms);
}

std::string FormatSize(uint64_t bytes) {
  static constexpr std::pair<std::string_view, uint64_t> kUnits[] = {
      {"TiB", 1ull << 40},       {"GiB", 1ull << 30},   {"MiB", 1ull << 20}, {"KiB", 1ull << 10},
      {"TB", 1'000'000'000'000}, {"GB", 1'000'000'000}, {"MB", 1'000'000},   {"KB", 1000}};
  std::string best;
  for (const auto& [suffix, unit] : kUnits) {
    if (bytes == 0 || bytes % unit != 0) continue;
    std::string candidate = fmt::format("{}{}", bytes / unit, suffix);
    if (best.empty() || candidate.size() < best.size()) best = candidate;
  }
  return best.empty() ? std::to_string(bytes) : best;
}

std::string FormatKeyValue(const ConfigKey& key, const KeyValue& value) {
  switch (key.type) {
    case KeyType::kBool:
      return std::get<bool>(value) ? "true" : "false";
    case KeyType::kInt:
      return std::to_string(std::get<int64_t>(value));
    case KeyType::kDouble:
      return fmt::format("{}", std::get<double>(value));
    case KeyType::kDuration:
      return QuoteToml(FormatDuration(std::get<uint64_t>(value)));
    case KeyType::kSize:
      return QuoteToml(FormatSize(std::get<uint64_t>(value)));
    case KeyType::kEnum:
      return QuoteToml(key.allowed.at(std::get<int64_t>(value)));
    case KeyType::kString:
      return QuoteToml(std::get<std::string>(value));
    case KeyType::kStringList: {
      std::string out = "[";
      for (const std::string& item : std::get<std::vector<std::string>>(value)) {
        if (out.size() > 1) out += ", ";
        out += QuoteToml(item);
      }
      return out + "]";
    }
  }
  return "";
}

}  // namespace policyd
