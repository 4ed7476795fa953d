#include "ops/admin_input.h"

#include <fmt/format.h>

#include <charconv>

#include "core/log_text.h"
#include "core/redis_keys.h"
#include "core/report_token.h"
#include "core/signals.h"

namespace policyd::admin {
namespace {

constexpr std::size_t kMaxUserName = 320;  // as ParseBlockSubject: an address at most
constexpr uint64_t kMinWindowMs = 1000;    // as [plans] limits (config_plans.cc)
constexpr uint64_t kMaxWindowMs = 30ull * 24 * 3600 * 1000;

// Values are quoted in messages as the operator typed them, but made printable: a control
// byte in an argument must not garble the terminal.
std::string Shown(std::string_view v) { return LogSafe(v, 200); }

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  }
  return out;
}

const SubjectKind kKinds[] = {SubjectKind::kUser, SubjectKind::kSender, SubjectKind::kAccount,
                              SubjectKind::kIp};
const Metric kMetrics[] = {Metric::kMessages, Metric::kRecipients, Metric::kBytes};

// "user:messages:1h" -> {"user", "messages", 3600}; the error names the bad part.
Result<std::string> LimitId(std::string_view text) {
  auto c1 = text.find(':');
  auto c2 = c1 == std::string_view::npos ? c1 : text.find(':', c1 + 1);
  if (c2 == std::string_view::npos) {
    return Invalid(fmt::format("limit '{}': expected SUBJECT:METRIC:WINDOW, e.g. "
                               "user:messages:1h",
                               Shown(text)));
  }
  std::string_view subject = text.substr(0, c1), metric = text.substr(c1 + 1, c2 - c1 - 1);
  std::string_view window = text.substr(c2 + 1);
  bool kind_ok = false, metric_ok = false;
  for (SubjectKind k : kKinds) kind_ok = kind_ok || SubjectKindName(k) == subject;
  for (Metric m : kMetrics) metric_ok = metric_ok || MetricName(m) == metric;
  if (!kind_ok) {
    return Invalid(fmt::format("limit subject '{}': expected user, sender, account or ip",
                               Shown(subject)));
  }
  if (!metric_ok) {
    return Invalid(fmt::format("limit metric '{}': expected messages, recipients or bytes",
                               Shown(metric)));
  }
  Result<uint64_t> ms = ParseDuration(window);
  if (!ms.ok()) return Invalid(fmt::format("limit window {}", ms.error().message));
  if (*ms < kMinWindowMs || *ms > kMaxWindowMs || *ms % 1000 != 0) {
    return Invalid(fmt::format("limit window '{}': expected whole seconds from 1s to 30d",
                               Shown(window)));
  }
  return fmt::format("limit:{}:{}:{}", subject, metric, *ms / 1000);
}

}  // namespace

Result<std::string> CheckAccountName(std::string_view name) {
  if (!IsValidAccountName(name)) {
    return Invalid(fmt::format("account '{}': expected 1-64 characters of A-Z a-z 0-9 . _ -",
                               Shown(name)));
  }
  return std::string(name);
}

Result<std::string> CheckUserName(std::string_view name) {
  if (name.empty() || name.size() > kMaxUserName) {
    return Invalid(fmt::format("user '{}': expected 1-{} bytes", Shown(name), kMaxUserName));
  }
  return std::string(name);
}

Result<std::string> CheckDomain(std::string_view domain) {
  std::string d = Lower(domain);
  if (!d.empty() && d.back() == '.') d.pop_back();
  if (d.rfind("*.", 0) == 0 || !IsValidDomainPattern(d)) {
    return Invalid(fmt::format("domain '{}': expected a domain name such as example.com",
                               Shown(domain)));
  }
  return d;
}

Result<std::string> CheckGrantPattern(std::string_view pattern) {
  std::string d = Lower(pattern);
  if (!d.empty() && d.back() == '.') d.pop_back();
  if (!IsValidDomainPattern(d)) {
    return Invalid(fmt::format(
        "domain '{}': expected a domain name such as example.com or *.example.com",
        Shown(pattern)));
  }
  return d;
}

std::vector<std::string> DomainAndParents(std::string_view domain) {
  std::vector<std::string> out;
  while (!domain.empty()) {
    out.emplace_back(domain);
    auto dot = domain.find('.');
    if (dot == std::string_view::npos) break;
    domain.remove_prefix(dot + 1);
  }
  return out;
}

Result<std::string> CheckMode(std::string_view mode) {
  if (mode == "explicit" || mode == "account" || mode == "any") return std::string(mode);
  return Invalid(fmt::format("mode '{}': expected explicit, account or any", Shown(mode)));
}

Result<std::string> CheckPlan(const Config& config, std::string_view plan) {
  if (plan.empty() || config.FindPlan(plan)) return std::string(plan);
  std::string names;
  for (const auto& [name, p] : config.plans) names += (names.empty() ? "" : ", ") + name;
  return Invalid(fmt::format("plan '{}' is not defined in {} (plans: {})", Shown(plan),
                             config.path, names));
}

Result<std::string> CheckBlockReason(std::string_view reason) {
  if (reason == "spam" || reason == "abuse" || reason == "rate" || reason == "manual") {
    return std::string(reason);
  }
  return Invalid(
      fmt::format("reason '{}': expected spam, abuse, rate or manual", Shown(reason)));
}

Result<uint64_t> CheckTtl(std::string_view ttl) {
  Result<uint64_t> ms = ParseDuration(ttl);
  if (!ms.ok()) return Invalid(fmt::format("--ttl {}", ms.error().message));
  if (*ms == 0) {
    return Invalid(fmt::format("--ttl '{}': must be more than 0 (leave --ttl out for a block "
                               "until block del)",
                               Shown(ttl)));
  }
  return *ms;
}

Result<std::string> CheckEvidence(std::string_view text) {
  if (text.size() > kMaxEvidenceBytes) {
    return Invalid(fmt::format("--evidence of {} bytes: at most {}", text.size(),
                               kMaxEvidenceBytes));
  }
  return std::string(text);
}

Result<LimitOverride> ParseLimitOverride(std::string_view text) {
  auto eq = text.find('=');
  if (eq == std::string_view::npos) {
    return Invalid(fmt::format("limit '{}': expected SUBJECT:METRIC:WINDOW=MAX, e.g. "
                               "user:messages:1h=100",
                               Shown(text)));
  }
  Result<std::string> field = LimitId(text.substr(0, eq));
  if (!field.ok()) return field.error();
  std::string_view max_text = text.substr(eq + 1);
  Result<uint64_t> max = ParseSize(max_text);
  if (!max.ok() || *max < 1) {
    return Invalid(fmt::format("limit maximum '{}': expected a number >= 1 (or a size such "
                               "as 2GiB)",
                               Shown(max_text)));
  }
  return LimitOverride{*field, *max};
}

Result<std::string> ParseLimitField(std::string_view text) { return LimitId(text); }

std::string LimitFieldLabel(std::string_view field) {
  if (field.rfind("limit:", 0) != 0) return {};
  std::string_view rest = field.substr(6);
  auto last = rest.rfind(':');
  if (last == std::string_view::npos) return {};
  uint64_t seconds = 0;
  std::string_view secs = rest.substr(last + 1);
  auto [p, ec] = std::from_chars(secs.data(), secs.data() + secs.size(), seconds);
  if (ec != std::errc() || p != secs.data() + secs.size()) return {};
  return fmt::format("{}:{}", rest.substr(0, last), FormatDuration(seconds * 1000));
}

Result<UsageSubject> ParseUsageSubject(std::string_view text) {
  UsageSubject s;
  if (text.rfind("account:", 0) == 0) {
    Result<std::string> name = CheckAccountName(text.substr(8));
    if (!name.ok()) return name.error();
    s.kind = SubjectKind::kAccount;
    s.name = *name;
    s.tag = SubjectTag(SubjectKind::kAccount, *name);
    return s;
  }
  if (text.rfind("ip:", 0) == 0 && text.size() > 3 && text.size() <= 3 + 64) {
    s.kind = SubjectKind::kIp;
    s.name = std::string(text.substr(3));
    s.tag = SubjectTag(SubjectKind::kIp, s.name);
    return s;
  }
  Result<std::string> tag = ParseBlockSubject(text);
  if (!tag.ok()) {
    return Invalid(fmt::format("subject '{}': expected user:NAME, sender:ADDRESS, "
                               "account:NAME or ip:ADDRESS",
                               Shown(text)));
  }
  s.kind = text.rfind("user:", 0) == 0 ? SubjectKind::kUser : SubjectKind::kSender;
  s.name = std::string(text.substr(text.find(':') + 1));
  s.tag = *tag;
  return s;
}

Result<std::string> CheckReportId(std::string_view id) {
  if (!IsValidReportId(id)) {
    return Invalid(fmt::format("report id '{}': expected 20 lowercase hex characters (the id= "
                               "of a report URL)",
                               Shown(id)));
  }
  return std::string(id);
}

Result<uint64_t> CheckCount(std::string_view option, std::string_view text, uint64_t max) {
  uint64_t n = 0;
  auto [p, ec] = std::from_chars(text.data(), text.data() + text.size(), n);
  if (ec != std::errc() || p != text.data() + text.size() || n < 1 || n > max) {
    return Invalid(fmt::format("{} '{}': expected a number from 1 to {}", option, Shown(text),
                               max));
  }
  return n;
}

Result<PolicyRequest> ParseExplainArgs(const std::vector<std::string>& args,
                                       const ParserLimits& limits) {
  std::string text;
  for (const std::string& a : args) {
    if (a.find('\n') != std::string::npos) {
      return Invalid(fmt::format("'{}': an attribute cannot hold a newline", Shown(a)));
    }
    auto eq = a.find('=');
    if (eq == std::string::npos || eq == 0) {
      return Invalid(fmt::format("'{}': expected NAME=VALUE, e.g. protocol_state=RCPT", Shown(a)));
    }
    text += a + "\n";
  }
  if (text.empty()) return Invalid("no request: give NAME=VALUE arguments or a request on stdin");
  return ParseExplainText(text, limits);
}

Result<PolicyRequest> ParseExplainText(std::string_view text, const ParserLimits& limits) {
  // The request's lines: leading empty lines skipped, up to the first empty line after them.
  std::vector<std::string_view> lines;
  bool has_request = false;
  std::size_t pos = 0, number = 0;
  while (pos < text.size()) {
    auto lf = text.find('\n', pos);
    std::string_view line = text.substr(pos, lf == std::string_view::npos ? lf : lf - pos);
    pos = lf == std::string_view::npos ? text.size() : lf + 1;
    ++number;
    if (line.empty()) {
      if (lines.empty()) continue;
      break;
    }
    auto eq = line.find('=');
    if (eq == std::string_view::npos || eq == 0) {
      return Invalid(fmt::format("line {} '{}': expected NAME=VALUE", number, Shown(line)));
    }
    has_request = has_request || line.rfind("request=", 0) == 0;
    lines.push_back(line);
  }
  if (lines.empty()) return Invalid("no request: give NAME=VALUE arguments or a request on stdin");
  std::string wire = has_request ? "" : "request=smtpd_access_policy\n";
  for (std::string_view l : lines) wire.append(l).append("\n");
  wire += "\n";
  RequestParser parser(limits);
  std::size_t consumed = 0;
  if (parser.Feed(wire, &consumed) != RequestParser::Status::kRequest) {
    return Invalid(fmt::format("request refused as policyd would: {}", parser.error()));
  }
  return parser.TakeRequest();
}

}  // namespace policyd::admin
