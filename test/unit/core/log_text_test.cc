// Log text: hostile bytes become visible escapes, long values keep head and tail, and the
// result never exceeds its bound.
#include "core/log_text.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace policyd {

TEST_CASE("log_text: Printable escapes control bytes, high bytes and backslash") {
  struct Case {
    std::string in;
    const char* want;
  };
  std::vector<Case> cases = {
      {"", ""},
      {"plain text ~!", "plain text ~!"},
      {"a\nb", "a\\x0ab"},
      {"\r\n", "\\x0d\\x0a"},
      {std::string("a\0b", 3), "a\\x00b"},
      {"\xff", "\\xff"},
      {"\x7f", "\\x7f"},
      {"\x1b[31m", "\\x1b[31m"},
      {"caf\xc3\xa9", "caf\\xc3\\xa9"},
      {"\\", "\\\\"},
      {"\\x0a", "\\\\x0a"},  // a literal backslash cannot be mistaken for an escape
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    CHECK(Printable(c.in) == c.want);
  }
}

TEST_CASE("log_text: Printable output is printable ASCII for every byte value") {
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  std::string out = Printable(all);
  for (unsigned char c : out) CHECK((c >= 0x20 && c < 0x7f));
}

TEST_CASE("log_text: LogSafe passes short values through unchanged") {
  CHECK(LogSafe("hello") == "hello");
  std::string exact(128, 'a');
  CHECK(LogSafe(exact) == exact);
  CHECK(LogSafe("a\nb") == "a\\x0ab");
  CHECK(LogSafe("") == "");
}

TEST_CASE("log_text: LogSafe keeps head and tail, names the byte count, and is exactly bounded") {
  std::string big = std::string(300, 'h') + std::string(300, 't');
  std::string out = LogSafe(big, 100);
  CHECK(out.size() == 100);
  CHECK(out.find("...(600 bytes)...") != std::string::npos);
  CHECK(out.front() == 'h');
  CHECK(out.back() == 't');
  // The marker is 17 characters: 83 kept, 42 from the head and 41 from the tail.
  CHECK(out == std::string(42, 'h') + "...(600 bytes)..." + std::string(41, 't'));
}

TEST_CASE("log_text: LogSafe counts input bytes, not escaped characters") {
  std::string nl(200, '\n');  // 800 characters once escaped
  std::string out = LogSafe(nl, 128);
  CHECK(out.size() == 128);
  CHECK(out.find("...(200 bytes)...") != std::string::npos);
  for (unsigned char c : out) CHECK((c >= 0x20 && c < 0x7f));
}

TEST_CASE("log_text: LogSafe never exceeds max_chars, for any bound") {
  std::string input = std::string(5000, 'x') + "\r\n" + std::string(5000, 'y');
  for (std::size_t max : {0, 1, 2, 10, 20, 21, 22, 23, 24, 50, 128, 1000, 20000}) {
    CAPTURE(max);
    std::string out = LogSafe(input, max);
    CHECK(out.size() <= max);
    if (max >= 24 && max < 10004) CHECK(out.find("(10002 bytes)") != std::string::npos);
  }
  CHECK(LogSafe(input, 0) == "");
}

}  // namespace policyd
