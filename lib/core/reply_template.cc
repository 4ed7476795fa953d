#include "core/reply_template.h"

#include <fmt/format.h>

#include <array>

namespace policyd {
namespace {

constexpr std::size_t kMaxTemplateChars = 300;
constexpr std::array<std::string_view, 8> kPlaceholders = {
    "report_url", "metric", "count", "max", "window", "retry_after", "user", "domain"};

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// Length of an enhanced status code "X.Y.Z" at the start of s (0 if none).
std::size_t EnhancedCodeLength(std::string_view s) {
  std::size_t i = 0, parts = 0;
  while (parts < 3) {
    std::size_t start = i;
    while (i < s.size() && IsDigit(s[i]) && i - start < 3) ++i;
    if (i == start) return 0;
    ++parts;
    if (parts < 3) {
      if (i >= s.size() || s[i] != '.') return 0;
      ++i;
    }
  }
  return (i == s.size() || s[i] == ' ') ? i : 0;
}

// True when reply is "NNN TEXT" or "NNN X.Y.Z TEXT" with TEXT not blank.
bool HasTextAfterCode(std::string_view reply) {
  if (reply.size() < 4 || !IsDigit(reply[0]) || !IsDigit(reply[1]) || !IsDigit(reply[2]) ||
      reply[3] != ' ') {
    return false;
  }
  std::string_view rest = reply.substr(4);
  rest.remove_prefix(EnhancedCodeLength(rest));
  return rest.find_first_not_of(' ') != std::string_view::npos;
}

template <typename OnPlaceholder, typename OnText>
Status Walk(std::string_view text, OnPlaceholder on_placeholder, OnText on_text) {
  for (std::size_t i = 0; i < text.size(); ++i) {
    char c = text[i];
    if (c == '{' && i + 1 < text.size() && text[i + 1] == '{') {
      on_text('{');
      ++i;
    } else if (c == '}' && i + 1 < text.size() && text[i + 1] == '}') {
      on_text('}');
      ++i;
    } else if (c == '{') {
      auto close = text.find('}', i);
      if (close == std::string_view::npos) return Invalid("unclosed '{' in reply template");
      std::string_view name = text.substr(i + 1, close - i - 1);
      bool known = false;
      for (auto p : kPlaceholders) known = known || p == name;
      if (!known) {
        return Invalid(fmt::format("unknown placeholder {{{}}} (known: {{report_url}}, {{metric}}, "
                                   "{{count}}, {{max}}, {{window}}, {{retry_after}}, {{user}}, "
                                   "{{domain}})",
                                   name));
      }
      on_placeholder(name);
      i = close;
    } else if (c == '}') {
      return Invalid("lone '}' in reply template (write '}}' for a brace)");
    } else {
      on_text(c);
    }
  }
  return Ok{};
}

}  // namespace

Status CheckReplyTemplate(std::string_view text, TemplatePurpose purpose) {
  if (text.size() > kMaxTemplateChars) {
    return Invalid(fmt::format("reply template longer than {} characters", kMaxTemplateChars));
  }
  for (unsigned char c : text) {
    if (c < 0x20 || c >= 0x7f) return Invalid("reply template must be printable ASCII");
  }
  char want = purpose == TemplatePurpose::kReject ? '5' : '4';
  if (text.size() < 3 || !IsDigit(text[0]) || !IsDigit(text[1]) || !IsDigit(text[2]) ||
      text[0] != want) {
    return Invalid(fmt::format("reply template must start with a {}xx code", want));
  }
  std::string_view rest = text.substr(3);
  if (rest.empty() || rest[0] != ' ') {
    return Invalid("reply code must be followed by a space and text (Postfix reads a bare code "
                   "as OK)");
  }
  rest.remove_prefix(1);
  if (std::size_t n = EnhancedCodeLength(rest); n > 0) {
    if (rest[0] != want) {
      return Invalid(fmt::format("enhanced status code must start with {} like the reply code",
                                 want));
    }
    rest.remove_prefix(n);
    if (rest.empty() || rest[0] != ' ') {
      return Invalid("enhanced status code must be followed by text (Postfix before 3.8.20 "
                     "garbles it otherwise)");
    }
    rest.remove_prefix(1);
  }
  if (rest.find_first_not_of(' ') == std::string_view::npos) {
    return Invalid("reply template needs text after the code");
  }
  if (Status walked = Walk(text, [](std::string_view) {}, [](char) {}); !walked.ok()) {
    return walked;
  }
  // A placeholder's value may be empty ({user} of an unknown user), so placeholders alone
  // cannot be the text: FillReplyTemplate falls back on the template with every value empty.
  if (!HasTextAfterCode(FillReplyTemplate(text, {}))) {
    return Invalid("reply template needs text after the code besides placeholders (their "
                   "values may be empty)");
  }
  return Ok{};
}

std::string SanitizeReplyValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (unsigned char c : value) out += (c >= 0x20 && c < 0x7f) ? static_cast<char>(c) : '?';
  return out;
}

std::string FillReplyTemplate(std::string_view text,
                              const std::map<std::string, std::string>& values) {
  std::string out;
  Status walked = Walk(
      text,
      [&](std::string_view name) {
        auto it = values.find(std::string(name));
        if (it != values.end()) out += SanitizeReplyValue(it->second);
      },
      [&](char c) { out += c; });
  if (!walked.ok()) out = std::string(text);  // unchecked template: still sanitised below
  out = SanitizeReplyValue(out);
  if (out.size() > kMaxReplyChars) out.resize(kMaxReplyChars);
  // Values that are empty or blank, or long enough to push the template's text past the cut,
  // would leave a bare code that Postfix misreads; the template's own text is then the reply
  // (found by test/fuzz/reply_fuzz.cc).
  if (walked.ok() && !values.empty() && !HasTextAfterCode(out)) return FillReplyTemplate(text, {});
  return out;
}

std::string FormatPolicyReply(std::string_view action_text) {
  std::string out;
  out.reserve(action_text.size() + 9);
  out += "action=";
  out += action_text;
  out += "\n\n";
  return out;
}

}  // namespace policyd
