// Form and query decoding: percent escapes, '+' as space, malformed escapes kept literally,
// first value wins.
#include "core/url_query.h"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

namespace policyd {

TEST_CASE("url_query: PercentDecode decodes escapes and '+', keeps malformed ones") {
  struct Case {
    std::string in;
    std::string want;
  };
  std::vector<Case> cases = {
      {"", ""},
      {"abc", "abc"},
      {"a+b", "a b"},
      {"a%20b", "a b"},
      {"%41%42%43", "ABC"},
      {"%4a%4A", "JJ"},
      {"%2B", "+"},
      {"%25", "%"},
      {"%2525", "%25"},  // decoded once only
      {"%", "%"},
      {"%4", "%4"},
      {"a%", "a%"},
      {"a%4", "a%4"},
      {"%zz", "%zz"},
      {"%4g", "%4g"},
      {"%g4", "%g4"},
      {"%%41", "%A"},
      {"%00", std::string("\0", 1)},
      {"%0D%0A", "\r\n"},
      {"%FF", "\xff"},
      {"%C3%A9", "\xc3\xa9"},
      {"&=", "&="},
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    CHECK(PercentDecode(c.in) == c.want);
  }
}

TEST_CASE("url_query: ParseFormEncoded splits on '&' and '=', first value wins") {
  using Map = std::map<std::string, std::string>;
  struct Case {
    std::string in;
    Map want;
  };
  std::vector<Case> cases = {
      {"", {}},
      {"&&&", {}},
      {"id=abc&auth=1-2-3", {{"id", "abc"}, {"auth", "1-2-3"}}},
      {"id=first&id=second", {{"id", "first"}}},
      {"a", {{"a", ""}}},
      {"a=", {{"a", ""}}},
      {"=v", {{"", "v"}}},
      {"a=b=c", {{"a", "b=c"}}},
      {"a=1&&b=2&", {{"a", "1"}, {"b", "2"}}},
      {"na%6De=v%61lue+x", {{"name", "value x"}}},
      {"a%26b=c%3Dd", {{"a&b", "c=d"}}},
      {"x=%ZZ&y=%", {{"x", "%ZZ"}, {"y", "%"}}},
      {"id=%61&%69d=b", {{"id", "a"}}},  // names compare after decoding
  };
  for (const Case& c : cases) {
    CAPTURE(c.in);
    CHECK(ParseFormEncoded(c.in) == c.want);
  }
}

TEST_CASE("url_query: large hostile input stays bounded by its size") {
  std::string big;
  for (int i = 0; i < 10000; ++i) big += "k" + std::to_string(i) + "=%ff%00+&";
  auto m = ParseFormEncoded(big);
  CHECK(m.size() == 10000);
  CHECK(m["k9999"] == std::string("\xff\0 ", 3));
  std::string percents(100000, '%');
  CHECK(PercentDecode(percents) == percents);
}

}  // namespace policyd
