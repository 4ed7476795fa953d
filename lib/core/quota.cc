#include "core/quota.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>

#include "core/log_text.h"

namespace policyd {
namespace {

bool TwoDigits(std::string_view s, int* out) {
  if (s.size() != 2 || s[0] < '0' || s[0] > '9' || s[1] < '0' || s[1] > '9') return false;
  *out = (s[0] - '0') * 10 + (s[1] - '0');
  return true;
}

}  // namespace

Result<int> ParseUtcOffset(std::string_view text) {
  if (text == "UTC" || text == "Z") return 0;
  int hours = 0, minutes = 0;
  if (text.size() != 6 || (text[0] != '+' && text[0] != '-') || text[3] != ':' ||
      !TwoDigits(text.substr(1, 2), &hours) || !TwoDigits(text.substr(4, 2), &minutes) ||
      minutes > 59 || hours * 60 + minutes > 14 * 60) {
    return Invalid(fmt::format("'{}': expected \"UTC\" or an offset such as \"+02:00\" or "
                               "\"-05:30\" (at most 14:00)",
                               LogSafe(text, 40)));
  }
  int total = hours * 60 + minutes;
  return text[0] == '-' ? -total : total;
}

Result<std::vector<int>> ParseWarnAt(const std::vector<std::string>& entries) {
  std::vector<int> out;
  for (const std::string& e : entries) {
    int percent = 0;
    std::string_view digits(e);
    bool ok = !digits.empty() && digits.back() == '%';
    if (ok) {
      digits.remove_suffix(1);
      auto [p, ec] = std::from_chars(digits.data(), digits.data() + digits.size(), percent);
      ok = !digits.empty() && ec == std::errc() && p == digits.data() + digits.size() &&
           percent >= 1 && percent <= 100;
    }
    if (!ok) {
      return Invalid(fmt::format("'{}': expected a percentage from 1% to 100%, e.g. \"80%\"",
                                 LogSafe(e, 40)));
    }
    out.push_back(percent);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  if (out.size() > 10) return Invalid("more than 10 warning levels");
  return out;
}

std::string QuotaSpec(int offset_min, bool defer, const std::vector<int>& warn_percents) {
  std::string levels;
  for (int p : warn_percents) levels += fmt::format("{}{}", levels.empty() ? "" : ",", p);
  return fmt::format("{}|{}|{}", offset_min, defer ? "defer" : "reject", levels);
}

}  // namespace policyd
