// What the fuzz targets of issue 8 (test/fuzz) found, as readable regression tests. The
// inputs that found them are replayed too, from test/fuzz/regressions/TARGET/.
#include <doctest/doctest.h>

#include <map>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/reply_template.h"
#include "core/request_parser.h"

namespace policyd {
namespace {

// The parser's error for `input` fed in pieces of `chunk` bytes ("" when none).
std::string ErrorFedBy(std::string_view input, std::size_t chunk, ParserLimits limits) {
  RequestParser parser(limits);
  for (std::size_t at = 0; at < input.size();) {
    std::string_view piece = input.substr(at, chunk);
    std::size_t consumed = 0;
    RequestParser::Status s = parser.Feed(piece, &consumed);
    if (s == RequestParser::Status::kError) return parser.error();
    if (s == RequestParser::Status::kRequest) parser.TakeRequest();
    at += consumed;
  }
  return "";
}

}  // namespace

TEST_CASE("issue 8: the parser's error names the first offending byte, however bytes arrive") {
  ParserLimits limits{18, 4, 82};
  // A NUL within the line, which grows past max_line_bytes further on: whole, the line bound
  // used to win; byte by byte, the NUL did.
  std::string input = std::string("request=smtpd\nsas\x01", 18) + std::string(3, '\0') +
                      "xxxxxxxxxxxxxxx\n\n";
  std::string whole = ErrorFedBy(input, input.size(), limits);
  CHECK(whole == "NUL byte in request");
  for (std::size_t chunk = 1; chunk < input.size(); ++chunk) {
    CAPTURE(chunk);
    CHECK(ErrorFedBy(input, chunk, limits) == whole);
  }
  // The line bound is hit before the request bound when both are passed in one read.
  std::string long_line = "request=" + std::string(100, 'x') + "\n\n";
  for (std::size_t chunk : {std::size_t{1}, std::size_t{7}, long_line.size()}) {
    CHECK(ErrorFedBy(long_line, chunk, {18, 4, 40}) == "line longer than max_line_bytes (18)");
  }
}

TEST_CASE("issue 8: a reply template needs text besides placeholders, whose values may be empty") {
  // "554 5.7.1 {user}" with no user used to reply "554 5.7.1 ", which Postfix garbles.
  for (const char* text : {"554 5.7.1 {user}", "550 {user}{domain}", "550 {user}5.7.1",
                           "450 4.7.1 {metric} {count}"}) {
    CAPTURE(text);
    TemplatePurpose purpose = text[0] == '5' ? TemplatePurpose::kReject : TemplatePurpose::kDefer;
    Status s = CheckReplyTemplate(text, purpose);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message.find("besides placeholders") != std::string::npos);
  }
  CHECK(CheckReplyTemplate("550 {user}@{domain}", TemplatePurpose::kReject).ok());
}

TEST_CASE("issue 8: blank or long blank values never leave a bare code") {
  std::string text = "554 5.7.1 {user} blocked";
  REQUIRE(CheckReplyTemplate(text, TemplatePurpose::kReject).ok());
  std::map<std::string, std::string> blank = {{"user", std::string(500, ' ')}};
  CHECK(FillReplyTemplate(text, blank) == "554 5.7.1  blocked");
  std::map<std::string, std::string> controls = {{"user", std::string(500, '\n')}};
  CHECK(FillReplyTemplate(text, controls) == "554 5.7.1 " + std::string(390, '?'));
  CHECK(FillReplyTemplate(text, {{"user", "alice"}}) == "554 5.7.1 alice blocked");
}

TEST_CASE("issue 8: a config error echoing a key or value with a newline stays one line") {
  // A quoted TOML key may hold "\n": each problem must stay one "file:line:col: ..." line, so
  // an operator (and a log parser) never reads half a message as a second problem.
  Result<Config> c = ParseConfig(
      "[report]\nsecret = \"0123456789abcdef\"\n[policy]\n\"unknown\\nkey\" = 1\n", "p.toml");
  REQUIRE_FALSE(c.ok());
  CHECK(c.error().message.find('\n') == std::string::npos);
  CHECK(c.error().message.starts_with("p.toml:4:"));
}

}  // namespace policyd

