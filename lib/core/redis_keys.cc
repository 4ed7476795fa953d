#include "core/redis_keys.h"

#include <fmt/format.h>

namespace policyd {
namespace {

char Lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool IsDomain(std::string_view d) {
  if (d.empty() || d.size() > 253) return false;
  std::size_t label = 0;
  for (char c : d) {
    if (c == '.') {
      if (label == 0) return false;
      label = 0;
      continue;
    }
    bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
    if (!ok || ++label > 63) return false;
  }
  return label > 0;
}

}  // namespace

std::string EscapeKeyName(std::string_view name) {
  std::string out;
  out.reserve(name.size());
  for (unsigned char c : name) {
    if (c <= 0x20 || c >= 0x7f || c == '{' || c == '}' || c == '%') {
      out += fmt::format("%{:02X}", c);
    } else {
      out += static_cast<char>(c);
    }
  }
  return out;
}

std::string SubjectTag(SubjectKind kind, std::string_view name) {
  if (name.empty()) return {};
  return fmt::format("{}:{}", SubjectKindName(kind), EscapeKeyName(name));
}

std::string BuildKey(std::string_view prefix, std::string_view type, std::string_view tag,
                     std::string_view rest) {
  if (rest.empty()) return fmt::format("{}{}:{{{}}}", prefix, type, tag);
  return fmt::format("{}{}:{{{}}}:{}", prefix, type, tag, rest);
}

Result<std::string> ParseBlockSubject(std::string_view text) {
  constexpr std::size_t kMaxName = 320;  // an address is at most 64 + 1 + 255
  if (text.rfind("user:", 0) == 0 && text.size() > 5 && text.size() - 5 <= kMaxName) {
    return SubjectTag(SubjectKind::kUser, text.substr(5));
  }
  if (text.rfind("sender:", 0) == 0 && text.size() > 7 && text.size() - 7 <= kMaxName &&
      text.find('@') != std::string_view::npos) {
    return SubjectTag(SubjectKind::kSender, NormalizeSender(text.substr(7)));
  }
  return Invalid(fmt::format("subject '{}': expected user:NAME or sender:ADDRESS", text));
}

bool IsValidAccountName(std::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '.' || c == '_' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string SenderDomain(std::string_view sender) {
  auto at = sender.rfind('@');
  if (at == std::string_view::npos) return {};
  std::string d;
  for (char c : sender.substr(at + 1)) d += Lower(c);
  if (!d.empty() && d.back() == '.') d.pop_back();
  return IsDomain(d) ? d : std::string();
}

std::string NormalizeSender(std::string_view sender) {
  std::string s;
  s.reserve(sender.size());
  for (char c : sender) s += Lower(c);
  return s;
}

bool IsValidDomainPattern(std::string_view pattern) {
  if (pattern.rfind("*.", 0) == 0) pattern.remove_prefix(2);
  return IsDomain(pattern);
}

std::string GlobEscape(std::string_view text) {
  std::string out;
  for (char c : text) {
    if (c == '*' || c == '?' || c == '[' || c == ']' || c == '\\') out += '\\';
    out += c;
  }
  return out;
}

}  // namespace policyd
