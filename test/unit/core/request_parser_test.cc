// The policy protocol parser against Postfix 3.7's own requests (test/data/requests/*.req),
// split at every byte offset and fed one byte at a time, and against every error it reports.
#include "core/request_parser.h"

#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

namespace policyd {
namespace {

using Attrs = std::vector<std::pair<std::string, std::string>>;

std::vector<std::pair<std::string, std::string>> GoldenFiles() {
  std::vector<std::pair<std::string, std::string>> out;
  for (const auto& entry : std::filesystem::directory_iterator(POLICYD_GOLDEN_DIR)) {
    if (entry.path().extension() != ".req") continue;
    std::ifstream f(entry.path(), std::ios::binary);
    std::stringstream s;
    s << f.rdbuf();
    out.emplace_back(entry.path().filename().string(), s.str());
  }
  return out;
}

// Feeds chunks; returns every request completed, in order, and the final status.
struct FeedResult {
  std::vector<Attrs> requests;
  RequestParser::Status last = RequestParser::Status::kNeedMore;
  std::string error;
};

FeedResult FeedChunks(const std::vector<std::string>& chunks, ParserLimits limits = {}) {
  RequestParser parser(limits);
  FeedResult r;
  for (const std::string& chunk : chunks) {
    std::string_view rest = chunk;
    while (!rest.empty()) {
      std::size_t consumed = 0;
      r.last = parser.Feed(rest, &consumed);
      REQUIRE(consumed <= rest.size());
      rest.remove_prefix(consumed);
      if (r.last == RequestParser::Status::kRequest) {
        r.requests.push_back(parser.TakeRequest().attributes());
      } else if (r.last == RequestParser::Status::kError) {
        r.error = parser.error();
        return r;
      } else {
        REQUIRE(rest.empty());  // kNeedMore consumes everything it was given
      }
    }
  }
  return r;
}

}  // namespace

TEST_CASE("request_parser: every golden request parses whole, split anywhere, byte by byte") {
  auto files = GoldenFiles();
  REQUIRE(files.size() >= 10);
  for (const auto& file : files) {
    // Not a structured binding: clang 14 cannot capture one in CAPTURE's lambda.
    const std::string& name = file.first;
    const std::string& bytes = file.second;
    CAPTURE(name);
    FeedResult whole = FeedChunks({bytes});
    REQUIRE(whole.requests.size() == 1);
    const Attrs& expected = whole.requests[0];
    CHECK(expected.front() == std::make_pair(std::string("request"),
                                             std::string("smtpd_access_policy")));
    for (std::size_t cut = 0; cut <= bytes.size(); ++cut) {
      FeedResult split = FeedChunks({bytes.substr(0, cut), bytes.substr(cut)});
      REQUIRE(split.requests.size() == 1);
      CHECK(split.requests[0] == expected);
    }
    std::vector<std::string> bytewise;
    for (char c : bytes) bytewise.emplace_back(1, c);
    FeedResult slow = FeedChunks(bytewise);
    REQUIRE(slow.requests.size() == 1);
    CHECK(slow.requests[0] == expected);
  }
}

TEST_CASE("request_parser: pipelined requests come out one at a time, in order") {
  auto files = GoldenFiles();
  std::string all;
  for (const auto& f : files) all += f.second;
  RequestParser parser({});
  std::string_view rest = all;
  std::size_t n = 0;
  while (!rest.empty()) {
    std::size_t consumed = 0;
    REQUIRE(parser.Feed(rest, &consumed) == RequestParser::Status::kRequest);
    CHECK(consumed == files[n].second.size());  // stops right after the empty line
    parser.TakeRequest();
    rest.remove_prefix(consumed);
    ++n;
  }
  CHECK(n == files.size());
}

TEST_CASE("request_parser: a value may contain '=' and may be empty") {
  FeedResult r = FeedChunks({"request=smtpd_access_policy\nccert_subject=CN=a=b\nsender=\n\n"});
  REQUIRE(r.requests.size() == 1);
  CHECK(r.requests[0][1] == std::make_pair(std::string("ccert_subject"), std::string("CN=a=b")));
  CHECK(r.requests[0][2] == std::make_pair(std::string("sender"), std::string()));
}

TEST_CASE("request_parser: malformed and oversized input is an error that says why") {
  ParserLimits limits{64, 4, 150};
  struct Case {
    const char* what;
    std::string input;
    const char* reason;
  };
  std::vector<Case> cases = {
      {"line too long", "request=x\nsender=" + std::string(60, 'a') + "\n\n", "max_line_bytes (64)"},
      {"too many attributes", "request=x\na=1\nb=2\nc=3\nd=4\n\n", "max_attributes (4)"},
      {"request too large", "request=x\n" + std::string(5, 'x') + "=" + std::string(50, 'y') +
                                "\n" + std::string(5, 'z') + "=" + std::string(50, 'y') + "\n" +
                                std::string(5, 'w') + "=" + std::string(50, 'y') + "\n\n",
       "max_request_bytes (150)"},
      {"NUL byte", std::string("request=x\nsender=a\0b\n\n", 22), "NUL"},
      {"no request=", "protocol_state=RCPT\n\n", "request="},
      {"line without =", "request=x\ngarbage\n\n", "'='"},
      {"empty name", "request=x\n=value\n\n", "empty attribute name"},
      {"blank line first", "\n", "empty request"},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    FeedResult r = FeedChunks({c.input}, limits);
    CHECK(r.last == RequestParser::Status::kError);
    CHECK(r.error.find(c.reason) != std::string::npos);
    // The same error when the input arrives byte by byte.
    std::vector<std::string> bytewise;
    for (char ch : c.input) bytewise.emplace_back(1, ch);
    CHECK(FeedChunks(bytewise, limits).error == r.error);
  }
}

TEST_CASE("request_parser: limits exactly at the bound pass, one over fails") {
  ParserLimits limits{20, 3, 1000};
  std::string line20 = "request=" + std::string(12, 'x');  // 20 bytes
  CHECK(FeedChunks({line20 + "\n\n"}, limits).requests.size() == 1);
  CHECK(FeedChunks({line20 + "x\n\n"}, limits).last == RequestParser::Status::kError);
  CHECK(FeedChunks({"request=a\nb=1\nc=2\n\n"}, limits).requests.size() == 1);
  CHECK(FeedChunks({"request=a\nb=1\nc=2\nd=3\n\n"}, limits).last ==
        RequestParser::Status::kError);
  std::string req = "request=a\n\n";  // 11 bytes
  CHECK(FeedChunks({req}, ParserLimits{20, 3, 11}).requests.size() == 1);
  CHECK(FeedChunks({req}, ParserLimits{20, 3, 10}).last == RequestParser::Status::kError);
}

TEST_CASE("request_parser: a CR before LF stays in the value (Postfix sends LF only)") {
  FeedResult r = FeedChunks({"request=smtpd_access_policy\r\nsender=a\r\n\n"});
  REQUIRE(r.requests.size() == 1);
  CHECK(r.requests[0][1].second == "a\r");
}

}  // namespace policyd
