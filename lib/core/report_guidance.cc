#include "core/report_guidance.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <nlohmann/json.hpp>

#include "core/domain_candidates.h"
#include "core/report_page.h"
#include "core/utf8.h"

namespace policyd {
namespace {

constexpr uint64_t kSecondMs = 1000, kMinuteMs = 60 * kSecondMs, kHourMs = 60 * kMinuteMs,
                   kDayMs = 24 * kHourMs;

std::string FieldOf(const Report& r, const char* name) {
  auto it = r.fields.find(name);
  return it == r.fields.end() ? std::string() : it->second;
}

bool ReadUint(std::string_view text, uint64_t* out) {
  if (text.empty()) return false;
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), *out);
  return ec == std::errc() && end == text.data() + text.size();
}

// "messages 1000/500 per 3600s (user)..." -> facts; nullopt for anything else.
std::optional<RateFacts> ParseThrottleDetail(std::string_view d) {
  RateFacts f;
  std::size_t sp = d.find(' ');
  std::size_t slash = d.find('/');
  std::size_t per = d.find(" per ");
  std::size_t s = per == std::string_view::npos ? per : d.find("s", per + 5);
  if (sp == std::string_view::npos || slash == std::string_view::npos || per == d.npos ||
      s == d.npos || !(sp < slash && slash < per)) {
    return std::nullopt;
  }
  f.metric = std::string(d.substr(0, sp));
  uint64_t window_s = 0;
  if (!ReadUint(d.substr(sp + 1, slash - sp - 1), &f.count) ||
      !ReadUint(d.substr(slash + 1, per - slash - 1), &f.max) ||
      !ReadUint(d.substr(per + 5, s - per - 5), &window_s) || window_s == 0) {
    return std::nullopt;
  }
  if (f.metric != "messages" && f.metric != "recipients" && f.metric != "bytes") {
    return std::nullopt;
  }
  f.window_ms = window_s * kSecondMs;
  return f;
}

std::size_t Utf8Length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if (lead >= 0xc2 && lead <= 0xdf) return 2;
  if (lead >= 0xe0 && lead <= 0xef) return 3;
  if (lead >= 0xf0 && lead <= 0xf4) return 4;
  return 0;
}

}  // namespace

ReportPageContext PageContextFor(const Config& config, const Report& report) {
  ReportPageContext c;
  c.relay_name = config.report.relay_name;
  c.support_url = config.report.support_url;
  c.logo_url = config.report.logo_url;
  auto plan = config.plans.find(FieldOf(report, "plan"));
  c.plan_any = plan != config.plans.end() && plan->second.allow_any_domain;
  c.memory_ms = config.abuse.memory_ms;
  c.max_block_ms = config.abuse.max_block_ms;
  c.escalate = config.abuse.escalate;
  return c;
}

std::optional<std::string> DomainState(const AclToday& today, std::string_view domain) {
  if (domain.empty()) return std::nullopt;
  std::optional<std::string> found;
  for (const std::string& c : DomainCandidates(domain, true)) {
    auto it = today.account_domains.find(c);
    if (it == today.account_domains.end()) continue;
    if (it->second == "verified") return it->second;  // a verified candidate decides
    if (!found) found = it->second;
  }
  return found;
}

std::vector<std::string> PermittedDomains(const AclToday& today, std::string_view mode) {
  std::vector<std::string> out;
  if (mode == "account") {
    for (const auto& [domain, state] : today.account_domains) {
      if (state == "verified") out.push_back(domain);
    }
  } else if (mode == "explicit") {
    for (const std::string& grant : today.grants) {
      std::string_view base = grant;
      if (base.starts_with("*.")) base.remove_prefix(2);
      if (DomainState(today, base) == "verified") out.push_back(grant);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

std::optional<RateFacts> NewestRateFacts(const std::vector<std::string>& evidence) {
  for (const std::string& raw : evidence) {  // newest first, as stored
    nlohmann::json e = nlohmann::json::parse(raw, nullptr, false);
    if (!e.is_object() || e.value("kind", nlohmann::json()) != "throttle") continue;
    const nlohmann::json& d = e.value("detail", nlohmann::json());
    if (!d.is_string()) continue;
    if (auto facts = ParseThrottleDetail(d.get<std::string>())) return facts;
  }
  return std::nullopt;
}

std::string FormatCount(uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

Markup DurationText(uint64_t ms, bool bare) {
  const char* unit = "s";
  uint64_t n = ms / kSecondMs;
  if (ms >= kDayMs && ms % kDayMs == 0) {
    unit = "d", n = ms / kDayMs;
  } else if (ms >= kHourMs && ms % kHourMs == 0) {
    unit = "h", n = ms / kHourMs;
  } else if (ms >= kMinuteMs && ms % kMinuteMs == 0) {
    unit = "m", n = ms / kMinuteMs;
  }
  TemplateValues v;
  v.Text("n", FormatCount(n)).Flag(unit, true).Flag("one", n == 1).Flag("bare", bare);
  return RenderPage("duration", v);
}

ReviewText CheckReviewText(std::string_view raw) {
  ReviewText r;
  std::string text;
  for (std::size_t i = 0; i < raw.size();) {
    unsigned char c = raw[i];
    std::size_t len = 1;
    if (c >= 0x80) {
      uint32_t cp = 0;
      len = Utf8Sequence(raw, i, &cp);
      if (len == 0 || cp < 0xa0) return {"", "bad_text", 0};  // invalid, or a C1 control
    } else if (c == '\r') {
      text += '\n';
      i += (i + 1 < raw.size() && raw[i + 1] == '\n') ? 2 : 1;
      ++r.chars;
      continue;
    } else if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
      return {"", "bad_text", 0};
    }
    text.append(raw.substr(i, len));
    i += len;
    ++r.chars;
  }
  auto blank = [](char ch) { return ch == ' ' || ch == '\n' || ch == '\t'; };
  std::size_t b = 0, e = text.size();
  while (b < e && blank(text[b])) ++b, --r.chars;
  while (e > b && blank(text[e - 1])) --e, --r.chars;
  r.text = text.substr(b, e - b);
  if (r.chars > kMaxReviewTextChars) r.error = "too_long";
  return r;
}

std::string Utf8Prefix(std::string_view text, std::size_t chars) {
  std::size_t i = 0;
  for (std::size_t n = 0; n < chars && i < text.size(); ++n) {
    i += std::max<std::size_t>(1, Utf8Length(static_cast<unsigned char>(text[i])));
  }
  return std::string(text.substr(0, std::min(i, text.size())));
}

}  // namespace policyd
