// Fuzzes what turns hostile values into text for Postfix, logs and browsers: reply templates
// (CheckReplyTemplate, FillReplyTemplate, FormatVerdict, FormatPolicyReply), Printable/LogSafe
// and HtmlEscape. The input is split by FuzzedDataProvider: a template, its purpose, one value
// per placeholder, verdict numbers, a log width, then bytes for the log functions.
// Invariants, beyond "no crash":
//  - a template CheckReplyTemplate accepts is short printable ASCII with a code of its class;
//  - a filled reply is at most kMaxReplyChars of printable ASCII (no CR, LF or control byte,
//    whatever the values hold), and from a checked template it keeps the code and has text
//    after it (Postfix reads a bare code as OK);
//  - the wire reply is "action=TEXT\n\n" with no other line break, so no value can add an
//    attribute or end the reply early;
//  - Printable is printable ASCII and reversible; LogSafe stays within its width;
//  - HtmlEscape leaves no character that could open a tag or close an attribute;
//  - the report page's EscapeText neither (nor control bytes but LF), a page template without
//    '<' renders to text without '<' whatever its values hold, and CheckReviewText's accepted
//    text is bounded, has no CR or control byte but LF and TAB, and passes again unchanged.
#include <fuzzer/FuzzedDataProvider.h>

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/log_text.h"
#include "core/page_template.h"
#include "core/report_guidance.h"
#include "core/reply_template.h"
#include "core/report_page.h"
#include "core/verdict.h"
#include "fuzz_check.h"

namespace policyd {
namespace {

constexpr std::string_view kPlaceholders[] = {"report_url", "metric", "count", "max",
                                              "window", "retry_after", "user", "domain"};

bool PrintableAscii(std::string_view text) {
  for (unsigned char c : text) {
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

bool IsDigit(char c) { return c >= '0' && c <= '9'; }

// "NNN TEXT" or "NNN X.Y.Z TEXT" with TEXT not blank, first digit `want`: what Postfix needs
// to read the reply as that code.
bool HasCodeAndText(std::string_view reply, char want) {
  if (reply.size() < 4 || reply[0] != want || !IsDigit(reply[1]) || !IsDigit(reply[2]) ||
      reply[3] != ' ') {
    return false;
  }
  std::string_view rest = reply.substr(4);
  std::size_t i = 0, parts = 0;
  while (parts < 3) {
    std::size_t start = i;
    while (i < rest.size() && IsDigit(rest[i]) && i - start < 3) ++i;
    if (i == start) break;
    if (++parts < 3 && (i >= rest.size() || rest[i] != '.')) break;
    if (parts < 3) ++i;
  }
  if (parts == 3 && (i == rest.size() || rest[i] == ' ')) rest.remove_prefix(i);
  return rest.find_first_not_of(' ') != std::string_view::npos;
}

void CheckReply(std::string_view reply) {
  FUZZ_CHECK(reply.size() <= kMaxReplyChars);
  FUZZ_CHECK(PrintableAscii(reply));
  std::string wire = FormatPolicyReply(reply);
  FUZZ_CHECK(wire == "action=" + std::string(reply) + "\n\n");
  FUZZ_CHECK(wire.find('\n') == wire.size() - 2);
}

// Reverses Printable: "\\" -> '\', "\xNN" -> the byte.
std::string Unprintable(std::string_view text) {
  std::string out;
  for (std::size_t i = 0; i < text.size(); ++i) {
    if (text[i] != '\\') {
      out += text[i];
    } else if (i + 1 < text.size() && text[i + 1] == '\\') {
      out += '\\';
      ++i;
    } else {
      FUZZ_CHECK(i + 3 < text.size() && text[i + 1] == 'x');
      out += static_cast<char>(std::stoi(std::string(text.substr(i + 2, 2)), nullptr, 16));
      i += 3;
    }
  }
  return out;
}

void CheckLogText(std::string_view bytes, std::size_t width) {
  std::string printable = Printable(bytes);
  FUZZ_CHECK(PrintableAscii(printable));
  FUZZ_CHECK(Unprintable(printable) == bytes);
  std::string safe = LogSafe(bytes, width);
  FUZZ_CHECK(PrintableAscii(safe));
  FUZZ_CHECK(safe.size() <= width || safe == printable);
  if (printable.size() <= width) FUZZ_CHECK(safe == printable);
}

void CheckHtml(std::string_view value) {
  std::string html = HtmlEscape(value);
  FUZZ_CHECK(PrintableAscii(html));
  FUZZ_CHECK(html.find_first_of("<>\"'") == std::string::npos);
  for (std::size_t at = html.find('&'); at != std::string::npos; at = html.find('&', at + 1)) {
    std::size_t semi = html.find(';', at);
    FUZZ_CHECK(semi != std::string::npos && semi - at <= 6);
  }
}

void CheckPageText(std::string_view tmpl, std::string_view value) {
  std::string text = EscapeText(value);
  FUZZ_CHECK(text.find_first_of("<>\"'") == std::string::npos);
  for (unsigned char c : text) FUZZ_CHECK(c >= 0x20 ? c != 0x7f : c == '\n');
  TemplateValues values;
  values.Text("user", value).Text("domain", value).Flag("on", !value.empty());
  values.Url("url", value, true);
  std::string page = RenderTemplate(tmpl, values).str();
  if (tmpl.find('<') == std::string_view::npos) FUZZ_CHECK(page.find('<') == std::string::npos);
  TemplateErrors(tmpl);
  ReviewText review = CheckReviewText(value);
  if (review.error.empty()) {
    FUZZ_CHECK(review.chars <= kMaxReviewTextChars);
    for (unsigned char c : review.text) FUZZ_CHECK(c >= 0x20 ? c != 0x7f : c == '\n' || c == '\t');
    ReviewText again = CheckReviewText(review.text);
    FUZZ_CHECK(again.error.empty() && again.text == review.text);
  }
}

}  // namespace
}  // namespace policyd

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace policyd;
  FuzzedDataProvider in(data, size);
  std::string text = in.ConsumeRandomLengthString(400);
  bool reject = in.ConsumeBool();
  std::map<std::string, std::string> values;
  for (std::string_view name : kPlaceholders) {
    values[std::string(name)] = in.ConsumeRandomLengthString(600);
  }
  TemplatePurpose purpose = reject ? TemplatePurpose::kReject : TemplatePurpose::kDefer;
  char code_class = reject ? '5' : '4';
  bool checked = CheckReplyTemplate(text, purpose).ok();
  if (checked) FUZZ_CHECK(text.size() <= 300 && PrintableAscii(text) && text[0] == code_class);

  std::string filled = FillReplyTemplate(text, values);
  CheckReply(filled);
  if (checked) FUZZ_CHECK(HasCodeAndText(filled, code_class));

  // The same template as the [messages] a verdict of that class uses.
  Config config;
  config.report.secret = "0123456789abcdef";
  config.report.base_url = values["report_url"];
  Verdict verdict;
  verdict.user = values["user"];
  verdict.domain = values["domain"];
  verdict.metric = values["metric"];
  verdict.report_id = values["max"];
  verdict.count = in.ConsumeIntegral<uint64_t>();
  verdict.max = in.ConsumeIntegral<uint64_t>();
  verdict.window_ms = in.ConsumeIntegral<uint64_t>();
  verdict.retry_after_s = in.ConsumeIntegral<uint64_t>();
  if (checked) {
    (reject ? config.messages.abuse : config.messages.rate) = text;
    (reject ? config.messages.acl : config.messages.defer) = text;
    if (reject) config.messages.unauthenticated = text;
    if (reject) config.messages.ip = text;
    if (reject) config.messages.quota = text;
    if (!reject) config.messages.quota_defer = text;
    config.failure.on_redis_error = FailureAction::kDefer;
  }
  for (Action action : {Action::kDunno, Action::kAclReject, Action::kBlocked, Action::kThrottled,
                        Action::kIpRefused, Action::kQuotaExceeded, Action::kFailure,
                        Action::kUnauthenticatedReject}) {
    verdict.action = action;
    std::string reply = FormatVerdict(verdict, config);
    CheckReply(reply);
    bool dunno = action == Action::kDunno || (action == Action::kFailure &&
                                              config.failure.on_redis_error == FailureAction::kDunno);
    if (dunno) {
      FUZZ_CHECK(reply == "DUNNO");
    } else {
      bool defer = action == Action::kThrottled || action == Action::kFailure;
      FUZZ_CHECK(HasCodeAndText(reply, defer ? '4' : '5'));
    }
  }

  std::size_t width = in.ConsumeIntegralInRange<std::size_t>(0, 300);
  std::string bytes = in.ConsumeRemainingBytesAsString();
  CheckLogText(bytes, width);
  CheckLogText(values["user"], 128);
  CheckHtml(bytes);
  CheckHtml(values["user"]);
  CheckPageText(text, bytes);
  return 0;
}
