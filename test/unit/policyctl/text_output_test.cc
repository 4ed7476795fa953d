// policyctl's human output (aligned, one line per row, hostile bytes made printable) and its
// JSON (never throws on bytes that are not UTF-8).
#include "policyctl/text_output.h"

#include <doctest/doctest.h>

namespace policyd::admin {

TEST_CASE("text_output: tables align columns, pad short rows, leave no trailing spaces") {
  std::string t = RenderTable({"DOMAIN", "STATE"}, {{"example.com", "verified"}, {"a.org"}});
  CHECK(t ==
        "DOMAIN       STATE\n"
        "example.com  verified\n"
        "a.org        -\n");
  CHECK(RenderTable({"A", "B"}, {}) == "A  B\n");
  CHECK(RenderSection({"A", "B"}, {}) == "(none)\n");
}

TEST_CASE("text_output: hostile values cannot break lines or reach the terminal raw") {
  std::string t = RenderTable({"USER"}, {{"evil\nname\x1b[31m"}});
  CHECK(t == "USER\nevil\\x0aname\\x1b[31m\n");
  CHECK(RenderFields({{"user", "a\rb"}, {"plan", ""}}) == "user  a\\x0db\nplan  -\n");
}

TEST_CASE("text_output: JSON replaces bytes that are not UTF-8 instead of throwing") {
  nlohmann::json j = {{"user", std::string("a\xff\xfe")}, {"n", 3}};
  std::string out = DumpJson(j);
  CHECK(out.back() == '\n');
  CHECK(out.find("\"n\": 3") != std::string::npos);
  CHECK(out.find("\xef\xbf\xbd") != std::string::npos);  // U+FFFD
}

TEST_CASE("text_output: waits, amounts, times and evidence entries for people") {
  CHECK(WaitText(0) == "now");
  CHECK(WaitText(42) == "in 42s");
  CHECK(WaitText(3600) == "in 1h");
  CHECK(WaitText(3725) == "in 1h 2m 5s");
  CHECK(AmountText("bytes", 2ull << 30) == "2GiB");
  CHECK(AmountText("messages", 1024) == "1024");
  CHECK(TimeText("1800000000000") == "2027-01-15 08:00:00 UTC");
  nlohmann::json parsed;
  Row row = EvidenceCells(R"({"at":1800000000000,"kind":"throttle","detail":"messages 5/5"})",
                          &parsed);
  CHECK(row == Row{"2027-01-15 08:00:00 UTC", "throttle", "messages 5/5"});
  CHECK(parsed["kind"] == "throttle");
  row = EvidenceCells("not json", &parsed);
  CHECK(row == Row{"", "", "not json"});
  CHECK(parsed == "not json");
}

}  // namespace policyd::admin
