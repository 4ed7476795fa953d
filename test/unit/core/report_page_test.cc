// The report page renders customers' data: every value is escaped, whatever field or evidence
// entry it arrives in; MakeReport and FormatUtc turn stored strings into what the page shows.
#include "core/report_page.h"
#include "../text_contains.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

namespace policyd {
namespace {

const std::vector<std::string> kPayloads = {
    "<script>alert(1)</script>",
    "\"onmouseover=alert(1) x=\"",
    "'><img src=x onerror=alert(1)>",
    "</td></tr></table><script>alert(1)</script>",
};

using testing::Contains;

// No payload survives as markup: no tag from it, no attribute break-out.
void CheckInert(const std::string& page) {
  CHECK_FALSE(Contains(page, "<script"));
  CHECK_FALSE(Contains(page, "<img"));
  CHECK_FALSE(Contains(page, "\"onmouseover"));
  CHECK_FALSE(Contains(page, "'>"));
  CHECK_FALSE(Contains(page, "alert(1)</"));
  for (unsigned char c : page) {
    CHECK(((c >= 0x20 && c < 0x7f) || c == '\n'));
  }
}

std::string EvidenceJson(const std::string& v) {
  // A JSON object with v in every field EvidenceRow shows, written as a JSON string.
  std::string esc;
  for (char c : v) {
    if (c == '"' || c == '\\') esc += '\\';
    esc += c;
  }
  return "{\"at\":\"" + esc + "\",\"kind\":\"" + esc + "\",\"detail\":\"" + esc +
         "\",\"sender\":\"" + esc + "\",\"recipient\":\"" + esc + "\",\"client\":\"" + esc +
         "\",\"queue_id\":\"" + esc + "\",\"source\":\"" + esc + "\"}";
}

}  // namespace

TEST_CASE("report_page: HtmlEscape turns markup characters into entities") {
  struct Case {
    std::string in;
    const char* want;
  };
  std::vector<Case> cases = {
      {"", ""},
      {"plain", "plain"},
      {"<script>alert(1)</script>", "&lt;script&gt;alert(1)&lt;/script&gt;"},
      {"\"onmouseover=", "&quot;onmouseover="},
      {"it's", "it&#39;s"},
      {"a&b", "a&amp;b"},
      {"&amp;", "&amp;amp;"},
      {"a\nb\r\0", "a?b??"},
      {"caf\xc3\xa9", "caf??"},
      {"\x7f\xff", "??"},
      {"rate 0.6 % \xe2\x80\x94 6", "rate 0.6 % &mdash; 6"},
      {"\xe2\x80\x93 \xe2\x80", "??? ??"},
  };
  cases[7].in = std::string("a\nb\r\0", 5);
  for (const Case& c : cases) {
    CAPTURE(c.in);
    CHECK(HtmlEscape(c.in) == c.want);
  }
}

TEST_CASE("report_page: no value from fields, evidence, auth, branding or text is rendered unescaped") {
  for (const std::string& p : kPayloads) {
    CAPTURE(p);
    for (const char* kind : {"acl", "block", ""}) {
      for (const char* review : {"requested", "none"}) {
        for (const char* reason : {"spam", "abuse", "rate", "manual", "x"}) {
          Report r;
          r.id = p;
          for (const char* f : {"kind", "reason", "subject", "domain", "sender", "detail",
                                "created", "expires", "review", "source", "evidence", "mode",
                                "account", "plan", "review_text", "review_at"}) {
            r.fields[f] = p;
          }
          r.fields["kind"] = kind;
          r.fields["review"] = review;
          r.fields["reason"] = reason;
          r.evidence = {EvidenceJson(p), p, "[\"" + p + "\"]",
                        "{\"at\":1,\"kind\":{\"x\":\"" + p + "\"}}"};
          ReportPageContext c;
          c.relay_name = p;
          c.support_url = "https://x.example/" + p;  // not a safe URL: left out
          c.logo_url = p;
          c.text = p;
          c.notice = "too_long";
          c.acl.account_domains[p] = p;
          c.acl.grants = {p};
          std::string page = RenderReportPage(r, p, c);
          CheckInert(page);
          CHECK(Contains(page, HtmlEscape(p)));
        }
      }
    }
  }
}

TEST_CASE("report_page: the page shows the report's facts and the review form") {
  Report r = MakeReport("0123456789abcdef0123",
                        {"kind", "block", "subject", "user:alice", "reason", "spam", "created",
                         "1700000000000", "expires", "1700003600000", "review", "none",
                         "evidence", R"(["{\"at\":1700000000000,\"kind\":\"spam\",\"detail\":\"trap hit\",\"source\":\"api\"}"])"});
  ReportPageContext c;
  c.relay_name = "Example Relay";
  std::string page = RenderReportPage(r, "54da4565-6c01-52be-bdcc-44544b5dd23d", c);
  CHECK(Contains(page, "<title>Sender blocked: spam or abuse detected | Example Relay</title>"));
  CHECK(Contains(page, "<td>user:alice</td>"));
  CHECK(Contains(page, "<td>spam content</td>"));
  CHECK(Contains(page, "2023-11-14 22:13:20 UTC"));
  CHECK(Contains(page, "2023-11-14 23:13:20 UTC, by itself"));
  CHECK(Contains(page, "trap hit"));
  CHECK(Contains(page, "source=api"));
  CHECK(Contains(page, "name=id value=\"0123456789abcdef0123\""));
  CHECK(Contains(page, "name=auth value=\"54da4565-6c01-52be-bdcc-44544b5dd23d\""));
  CHECK(Contains(page, "<textarea id=text name=text maxlength=2000>"));
  CHECK_FALSE(Contains(page, "class=notice"));

  r.fields["review"] = "requested";
  r.fields["review_text"] = "We removed the <b>bought</b> list.";
  c.notice = "requested";
  page = RenderReportPage(r, "auth", c);
  CHECK(Contains(page, "<p class=notice role=status>Review requested."));
  CHECK(Contains(page, "We removed the &lt;b&gt;bought&lt;/b&gt; list."));
  CHECK_FALSE(Contains(page, "<form"));

  Report acl = MakeReport("ffffffffffffffffffff", {"kind", "acl", "domain", "example.com"});
  page = RenderReportPage(acl, "a", ReportPageContext());
  CHECK(Contains(page, "sender domain not permitted"));
  CHECK(Contains(page, "<td>example.com</td>"));
  CHECK_FALSE(Contains(page, "Ends"));
  CHECK(Contains(page, "None yet."));
}

TEST_CASE("report_page: a block without expiry says it does not end by itself") {
  Report r = MakeReport("0123456789abcdef0123", {"kind", "block", "expires", ""});
  CHECK(Contains(RenderReportPage(r, "a", ReportPageContext()), "It does not end by itself"));
}

TEST_CASE("report_page: MakeReport reads the flat hash and the evidence JSON list") {
  Report r = MakeReport("id1", {"kind", "block", "reason", "spam", "evidence",
                                R"(["{\"kind\":\"spam\"}", "{\"kind\":\"bounce\"}", 7, {"x":1}, null])"});
  CHECK(r.id == "id1");
  CHECK(r.fields.at("kind") == "block");
  CHECK(r.fields.at("reason") == "spam");
  CHECK(r.evidence == std::vector<std::string>{"{\"kind\":\"spam\"}", "{\"kind\":\"bounce\"}"});

  struct Case {
    std::string evidence;
    std::size_t entries;
  };
  std::vector<Case> cases = {{"", 0},     {"[]", 0},        {"not json", 0},
                             {"{}", 0},   {"\"x\"", 0},     {"[\"a\"", 0},
                             {"[\"a\",\"b\",\"c\"]", 3}};
  for (const Case& c : cases) {
    CAPTURE(c.evidence);
    CHECK(MakeReport("x", {"evidence", c.evidence}).evidence.size() == c.entries);
  }
  // An odd trailing name without a value is ignored; a repeated name keeps the last value.
  Report odd = MakeReport("x", {"a", "1", "a", "2", "b"});
  CHECK(odd.fields.size() == 1);
  CHECK(odd.fields.at("a") == "2");
  CHECK(MakeReport("x", {}).fields.empty());
}

TEST_CASE("report_page: FormatUtc shows milliseconds since the epoch as UTC") {
  struct Case {
    std::string ms;
    const char* want;
  };
  std::vector<Case> cases = {
      {"1700000000000", "2023-11-14 22:13:20 UTC"},
      {"1700000000999", "2023-11-14 22:13:20 UTC"},
      {"1000", "1970-01-01 00:00:01 UTC"},
      {"1", "1970-01-01 00:00:00 UTC"},
      {"951782400000", "2000-02-29 00:00:00 UTC"},
      {"", ""},
      {"0", ""},
      {"-1000", ""},
      {"abc", ""},
      {"99999999999999999999999", ""},  // out of range reads as 0
  };
  for (const Case& c : cases) {
    CAPTURE(c.ms);
    CHECK(FormatUtc(c.ms) == c.want);
  }
  // The largest value still formats without overflowing the buffer.
  CHECK(Contains(FormatUtc("9223372036854775807"), " UTC"));
}

TEST_CASE("report_page: the not-found page reveals nothing") {
  std::string page = RenderNotFoundPage();
  CHECK(Contains(page, "<h1>Not found</h1>"));
  CHECK_FALSE(Contains(page, "report"));
}

}  // namespace policyd
