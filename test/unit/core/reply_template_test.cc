// Reply templates: what CheckReplyTemplate accepts and why it refuses the rest, and that
// FillReplyTemplate never lets a hostile value break the one-line, printable, bounded reply.
#include "core/reply_template.h"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "core/config.h"
#include "../text_contains.h"

namespace policyd {
namespace {

bool AllPrintable(std::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c >= 0x7f) return false;
  }
  return true;
}

using testing::Contains;

}  // namespace

TEST_CASE("reply_template: valid templates pass, including every built-in default") {
  MessagesConfig defaults;
  struct Case {
    std::string text;
    TemplatePurpose purpose;
  };
  std::vector<Case> cases = {
      {"550 [ACL] Blocked. See {report_url}", TemplatePurpose::kReject},
      {"550 5.7.1 [ABUSE] Sender blocked: spam or abuse detected. See: {report_url}",
       TemplatePurpose::kReject},
      {defaults.acl, TemplatePurpose::kReject},
      {defaults.abuse, TemplatePurpose::kReject},
      {defaults.unauthenticated, TemplatePurpose::kReject},
      {defaults.rate, TemplatePurpose::kDefer},
      {defaults.defer, TemplatePurpose::kDefer},
      {"554 x", TemplatePurpose::kReject},
      {"450 4.7.1 x", TemplatePurpose::kDefer},
      {"550 5.7.1x is plain text, not an enhanced code", TemplatePurpose::kReject},
      {"550 {{literal}} braces and {user}@{domain}", TemplatePurpose::kReject},
      {"421 4.7.1 {metric} {count}/{max} per {window}, retry in {retry_after}s",
       TemplatePurpose::kDefer},
      {"550 " + std::string(296, 'x'), TemplatePurpose::kReject},  // exactly 300 characters
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    Status s = CheckReplyTemplate(c.text, c.purpose);
    CHECK_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
  }
}

TEST_CASE("reply_template: invalid templates are refused with a message that says why") {
  struct Case {
    std::string text;
    TemplatePurpose purpose;
    const char* reason;  // a fragment of the error message
  };
  std::vector<Case> cases = {
      {"", TemplatePurpose::kReject, "5xx code"},
      {"550", TemplatePurpose::kReject, "followed by a space"},
      {"550text", TemplatePurpose::kReject, "followed by a space"},
      {"550 ", TemplatePurpose::kReject, "needs text"},
      {"550    ", TemplatePurpose::kReject, "needs text"},
      {"550 5.7.1", TemplatePurpose::kReject, "enhanced status code must be followed by text"},
      {"550 5.7.1 ", TemplatePurpose::kReject, "needs text"},
      {"550 5.7.1   ", TemplatePurpose::kReject, "needs text"},
      {"450 text", TemplatePurpose::kReject, "5xx code"},
      {"550 text", TemplatePurpose::kDefer, "4xx code"},
      {"250 text", TemplatePurpose::kReject, "5xx code"},
      {"5a0 text", TemplatePurpose::kReject, "5xx code"},
      {"55 text", TemplatePurpose::kReject, "5xx code"},
      {" 550 text", TemplatePurpose::kReject, "5xx code"},
      {"421 5.7.1 x", TemplatePurpose::kDefer, "must start with 4"},
      {"550 4.7.1 x", TemplatePurpose::kReject, "must start with 5"},
      {"550 x {nope}", TemplatePurpose::kReject, "unknown placeholder {nope}"},
      {"550 x {}", TemplatePurpose::kReject, "unknown placeholder {}"},
      {"550 x {Report_URL}", TemplatePurpose::kReject, "unknown placeholder"},
      {"550 x {report_url", TemplatePurpose::kReject, "unclosed '{'"},
      {"550 x } y", TemplatePurpose::kReject, "lone '}'"},
      {"550 x }", TemplatePurpose::kReject, "lone '}'"},
      {"550 x {{report_url}", TemplatePurpose::kReject, "lone '}'"},
      {"550 caf\xc3\xa9", TemplatePurpose::kReject, "printable ASCII"},
      {"550 x\ty", TemplatePurpose::kReject, "printable ASCII"},
      {"550 x\r\n550 y", TemplatePurpose::kReject, "printable ASCII"},
      {std::string("550 x\0y", 7), TemplatePurpose::kReject, "printable ASCII"},
      {"550 x\x7f", TemplatePurpose::kReject, "printable ASCII"},
      {"550 " + std::string(297, 'x'), TemplatePurpose::kReject, "longer than 300"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    Status s = CheckReplyTemplate(c.text, c.purpose);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == ErrorCode::kInvalid);
    CHECK_MESSAGE(Contains(s.error().message, c.reason), s.error().message);
  }
}

TEST_CASE("reply_template: placeholders are replaced, missing ones become empty") {
  std::map<std::string, std::string> values = {
      {"report_url", "https://r.example/report?id=1&auth=2"},
      {"metric", "messages"},
      {"count", "501"},
      {"max", "500"},
      {"window", "1h"},
      {"retry_after", "42"},
      {"user", "alice"},
      {"domain", "example.com"},
  };
  struct Case {
    const char* text;
    const char* want;
  };
  std::vector<Case> cases = {
      {"550 [ACL] Blocked. See {report_url}",
       "550 [ACL] Blocked. See https://r.example/report?id=1&auth=2"},
      {"421 4.7.1 {metric} {count}/{max} per {window}; try again in {retry_after}s",
       "421 4.7.1 messages 501/500 per 1h; try again in 42s"},
      {"550 {user}@{domain}", "550 alice@example.com"},
      {"550 {{user}}", "550 {user}"},
      {"550 {{{user}}}", "550 {alice}"},
      {"550 a}}b{{c", "550 a}b{c"},
      {"550 no placeholders", "550 no placeholders"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    CHECK(FillReplyTemplate(c.text, values) == c.want);
  }
  CHECK(FillReplyTemplate("550 [{user}] See {report_url}", {}) == "550 [] See ");
}

TEST_CASE("reply_template: hostile values stay printable, single-line and bounded") {
  const std::string huge(10 * 1024, 'A');
  std::vector<std::string> hostile = {
      "x\r\n550 injected",
      "\n\naction=OK\n\n",
      std::string("a\0b", 3),
      "caf\xc3\xa9 \xe2\x98\x83 \xf0\x9f\x98\x80",
      "\xff\xfe\x80\x7f\x01\x1b[31m",
      huge,
      huge + "\r\n",
      "{report_url}",
      "{{user}} }{ {nope}",
  };
  const std::vector<std::string> templates = {
      "550 [ACL] Blocked. See {report_url}",
      "550 5.7.1 [ABUSE] {user}@{domain} {report_url}",
      "421 4.7.1 {metric} {count}/{max} per {window}; retry in {retry_after}s",
  };
  for (const std::string& t : templates) {
    REQUIRE(CheckReplyTemplate(t, t[0] == '5' ? TemplatePurpose::kReject
                                              : TemplatePurpose::kDefer).ok());
    for (const std::string& v : hostile) {
      CAPTURE(t);
      CAPTURE(v.size());
      std::map<std::string, std::string> values;
      for (const char* name : {"report_url", "metric", "count", "max", "window", "retry_after",
                               "user", "domain"}) {
        values[name] = v;
      }
      std::string out = FillReplyTemplate(t, values);
      CHECK(AllPrintable(out));
      CHECK(out.size() <= kMaxReplyChars);
      CHECK(out.substr(0, 4) == t.substr(0, 4));  // the code survives any value
    }
  }
}

TEST_CASE("reply_template: a placeholder inside a value is not expanded again") {
  std::map<std::string, std::string> values = {{"user", "{report_url}"},
                                               {"report_url", "SECRET"},
                                               {"domain", "{{x}}"}};
  CHECK(FillReplyTemplate("550 {user} {domain}", values) == "550 {report_url} {{x}}");
}

TEST_CASE("reply_template: control bytes in a value become '?' and the cut is exact") {
  CHECK(FillReplyTemplate("550 <{user}>", {{"user", std::string("a\r\nb\0c\xc3\xa9", 8)}}) ==
        "550 <a?" "?b?c?" "?>");
  std::string out = FillReplyTemplate("550 {user}", {{"user", std::string(1000, 'u')}});
  CHECK(out.size() == kMaxReplyChars);
  CHECK(out == "550 " + std::string(kMaxReplyChars - 4, 'u'));
  std::string fits(kMaxReplyChars - 4, 'u');
  CHECK(FillReplyTemplate("550 {user}", {{"user", fits}}) == "550 " + fits);
}

TEST_CASE("reply_template: an unchecked, broken template is still sanitised and bounded") {
  std::string out = FillReplyTemplate("550 {nope} \r\n" + std::string(1000, 'z') + " }", {});
  CHECK(AllPrintable(out));
  CHECK(out.size() == kMaxReplyChars);
  CHECK(out.substr(0, 11) == "550 {nope} ");
}

TEST_CASE("reply_template: SanitizeReplyValue maps every non-printable byte to '?'") {
  for (int b = 0; b < 256; ++b) {
    CAPTURE(b);
    std::string in(1, static_cast<char>(b));
    std::string out = SanitizeReplyValue(in);
    REQUIRE(out.size() == 1);
    CHECK(out == ((b >= 0x20 && b < 0x7f) ? in : "?"));
  }
  CHECK(SanitizeReplyValue("") == "");
}

TEST_CASE("reply_template: FormatPolicyReply ends the reply with an empty line") {
  CHECK(FormatPolicyReply("DUNNO") == "action=DUNNO\n\n");
  CHECK(FormatPolicyReply("550 [ACL] Blocked.") == "action=550 [ACL] Blocked.\n\n");
  CHECK(FormatPolicyReply("") == "action=\n\n");
}

}  // namespace policyd
