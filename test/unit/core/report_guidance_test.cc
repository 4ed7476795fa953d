// What the report page tells a customer to do: the ACL page per permission mode, the block
// page per reason, the rate in plain words, and the customer's review text checked.
#include "core/report_guidance.h"

#include <doctest/doctest.h>

#include <string>

#include "core/report_page.h"
#include "../text_contains.h"

namespace policyd {
namespace {

using testing::Contains;

Report AclReport(const std::string& mode, const std::string& domain = "shop.example") {
  return MakeReport("0123456789abcdef0123",
                    {"kind", "acl", "subject", "user:bob", "domain", domain, "sender",
                     "bob@" + domain, "mode", mode, "account", "acme", "plan", "starter",
                     "reason", "domain is not granted", "created", "1700000000000"});
}

}  // namespace

TEST_CASE("report_guidance: the ACL page names the user's mode and its fix") {
  ReportPageContext c;
  c.acl.account_domains = {{"acme.example", "verified"}, {"shop.example", "unverified"},
                           {"*.brand.example", "verified"}};
  c.acl.grants = {"acme.example", "shop.example", "news.brand.example", "other.example"};

  std::string page = RenderReportPage(AclReport("explicit"), "a", c);
  CHECK(Contains(page, "only domains assigned to this user"));
  CHECK(Contains(page, "<li>Verify <code>shop.example</code> on your account.</li>"));
  CHECK(Contains(page, "<li>Assign <code>shop.example</code> to the user <code>bob</code>.</li>"));
  CHECK_FALSE(Contains(page, "Add <code>shop.example</code> to your account"));
  // Granted and verified today: acme.example, news.brand.example (under *.brand.example).
  CHECK(Contains(page, "<ul><li><code>acme.example</code></li><li><code>news.brand.example</code></li></ul>"));
  CHECK_FALSE(Contains(page, "other.example"));

  page = RenderReportPage(AclReport("account", "new.example"), "a", c);
  CHECK(Contains(page, "any domain on the account"));
  CHECK(Contains(page, "<li>Add <code>new.example</code> to your account.</li>"));
  CHECK(Contains(page, "<li>Verify <code>new.example</code> on your account.</li>"));
  CHECK(Contains(page, "<li><code>*.brand.example</code></li><li><code>acme.example</code></li>"));
  CHECK_FALSE(Contains(page, "shop.example</code></li>"));

  // "any" on a plan without allow_any_domain acts as "account", and the page says so.
  page = RenderReportPage(AclReport("any"), "a", c);
  CHECK(Contains(page, "this user's plan (starter) does not"));
  CHECK(Contains(page, "does not allow it, so only the account's verified domains count"));
  CHECK(Contains(page, "move to a plan that allows sending from any domain"));
  c.plan_any = true;
  page = RenderReportPage(AclReport("any", ""), "a", c);
  CHECK(Contains(page, "this user's plan (starter) does<"));
  CHECK(Contains(page, "has no valid domain"));
  page = RenderReportPage(AclReport("any", "x.example"), "a", c);
  CHECK(Contains(page, "Any domain: this user's plan allows it."));

  page = RenderReportPage(AclReport("unknown"), "a", ReportPageContext());
  CHECK(Contains(page, "is not known to us"));
}

TEST_CASE("report_guidance: the block page per reason: kind, end, continued sending, steps") {
  ReportPageContext c;
  c.escalate = 2;
  c.memory_ms = 7ull * 24 * 3600 * 1000;
  c.max_block_ms = 30ull * 24 * 3600 * 1000;
  c.support_url = "mailto:help@relay.example";
  auto block = [](const char* reason, const char* escalates, const char* expires) {
    return MakeReport("0123456789abcdef0123",
                      {"kind", "block", "subject", "user:bob", "reason", reason, "escalates", escalates,
                       "created", "1700000000000", "expires", expires, "evidence",
                       R"(["{\"at\":1700000000000,\"kind\":\"throttle\",\"detail\":\"messages 1000/500 per 3600s (user)\"}"])"});
  };
  std::string page = RenderReportPage(block("rate", "1", "1700003600000"), "a", c);
  CHECK(Contains(page, "sending rate"));
  CHECK(Contains(page, "1,000 messages in the last hour; your plan allows 500."));
  CHECK(Contains(page, "slow down, spread the sending"));
  CHECK(Contains(page, "upgrade your plan"));
  CHECK(Contains(page, "the next block lasts 2 times as long as this one (up to 30 days)"));
  CHECK(Contains(page, "within 7 days"));
  CHECK(Contains(page, "2023-11-14 23:13:20 UTC, by itself"));

  page = RenderReportPage(block("spam", "1", "1700003600000"), "a", c);
  CHECK(Contains(page, "spam content"));
  CHECK(Contains(page, "look at what was flagged"));
  CHECK_FALSE(Contains(page, "your plan allows"));

  page = RenderReportPage(block("abuse", "1", ""), "a", c);
  CHECK(Contains(page, "abuse signals"));
  CHECK(Contains(page, "add a working unsubscribe link"));
  CHECK(Contains(page, "It does not end by itself"));

  page = RenderReportPage(block("manual", "", ""), "a", c);
  CHECK(Contains(page, "set by our team"));
  CHECK(Contains(page, "The block stays until it is lifted."));
  CHECK_FALSE(Contains(page, "times as long"));
  CHECK(Contains(page, "href=\"mailto:help@relay.example\""));
}

TEST_CASE("report_guidance: rate facts from the newest throttle entry") {
  auto facts = NewestRateFacts({R"j({"kind":"block","detail":"x"})j",
                                R"j({"kind":"throttle","detail":"recipients 2500/2000 per 86400s (account) (local, 3 throttles)"})j",
                                R"j({"kind":"throttle","detail":"messages 1/1 per 60s (user)"})j"});
  REQUIRE(facts.has_value());
  CHECK(facts->metric == "recipients");
  CHECK(facts->count == 2500);
  CHECK(facts->max == 2000);
  CHECK(facts->window_ms == 86400000);
  for (const char* bad : {"messages 1/x per 60s", "evil 1/1 per 60s", "messages 1/1 per 0s",
                          "messages", "", "messages 1/1 every 60s"}) {
    CAPTURE(bad);
    CHECK_FALSE(NewestRateFacts({std::string(R"j({"kind":"throttle","detail":")j") + bad + "\"}"}));
  }
  CHECK(FormatCount(0) == "0");
  CHECK(FormatCount(999) == "999");
  CHECK(FormatCount(1000) == "1,000");
  CHECK(FormatCount(1234567) == "1,234,567");
  CHECK(DurationText(3600000, true).str() == "hour");
  CHECK(DurationText(3600000, false).str() == "1 hour");
  CHECK(DurationText(600000, true).str() == "10 minutes");
  CHECK(DurationText(2 * 86400000ull, false).str() == "2 days");
  CHECK(DurationText(90000, false).str() == "90 seconds");
}

TEST_CASE("report_guidance: review text is bounded and sanitised") {
  ReviewText t = CheckReviewText("  We removed the list.\r\nAnd <b>fixed</b> it.\rDone\n\n ");
  CHECK(t.error == "");
  CHECK(t.text == "We removed the list.\nAnd <b>fixed</b> it.\nDone");
  CHECK(CheckReviewText("caf\xc3\xa9").chars == 4);
  CHECK(CheckReviewText(std::string(2000, 'x')).error == "");
  ReviewText big = CheckReviewText(std::string(100 * 1024, 'x'));
  CHECK(big.error == "too_long");
  CHECK(big.chars == 100 * 1024);
  CHECK(Utf8Prefix(big.text, kMaxReviewTextChars).size() == 2000);
  CHECK(Utf8Prefix("\xc3\xa9\xc3\xa9", 1) == "\xc3\xa9");
  for (std::string bad : {std::string("a\0b", 3), std::string("\x1b[31m"), std::string("\x7f"),
                          std::string("\xc2\x85"), std::string("\xff"), std::string("\xc3"),
                          std::string("\xe2\x82"), std::string("\xc0\xaf"), std::string("\xed\xa0\x80")}) {
    CAPTURE(bad);
    CHECK(CheckReviewText(bad).error == "bad_text");
  }
}

TEST_CASE("report_guidance: domain state and permitted domains") {
  AclToday t;
  t.account_domains = {{"a.example", "verified"}, {"b.example", "pending"}, {"*.c.example", "verified"}};
  t.grants = {"b.example", "x.c.example", "a.example", "*.a.example"};
  CHECK(DomainState(t, "a.example") == "verified");
  CHECK(DomainState(t, "sub.a.example") == "verified");  // a parent covers its subdomains
  CHECK(DomainState(t, "b.example") == "pending");
  CHECK(DomainState(t, "y.c.example") == "verified");
  CHECK_FALSE(DomainState(t, "z.example"));
  CHECK_FALSE(DomainState(t, ""));
  CHECK(PermittedDomains(t, "explicit") == std::vector<std::string>{"*.a.example", "a.example", "x.c.example"});
  CHECK(PermittedDomains(t, "account") == std::vector<std::string>{"*.c.example", "a.example"});
  CHECK(PermittedDomains(t, "any").empty());
}

}  // namespace policyd

namespace policyd {

TEST_CASE("report_guidance: branding and the plan come from config") {
  Result<Config> config = ParseConfig(
      "[report]\nsecret = \"0123456789abcdef\"\nrelay_name = \"Example Relay\"\n"
      "support_url = \"https://relay.example/help\"\nlogo_url = \"https://relay.example/l.png\"\n"
      "[abuse]\nescalate = 3\n[plans.default]\n[plans.pro]\nallow_any_domain = true\n",
      "t.toml");
  REQUIRE_MESSAGE(config.ok(), config.error().message);
  Report pro = MakeReport("0123456789abcdef0123", {"kind", "acl", "plan", "pro", "mode", "any"});
  ReportPageContext c = PageContextFor(*config, pro);
  CHECK(c.plan_any);
  CHECK(c.escalate == 3);
  CHECK_FALSE(PageContextFor(*config, MakeReport("x", {"plan", "default"})).plan_any);
  CHECK_FALSE(PageContextFor(*config, MakeReport("x", {"plan", "gone"})).plan_any);
  std::string page = RenderReportPage(pro, "a", c);
  CHECK(Contains(page, "<img src=\"https://relay.example/l.png\" alt=\"\">"));
  CHECK(Contains(page, "<span class=relay>Example Relay</span>"));
  CHECK(Contains(page, "<a href=\"https://relay.example/help\">Contact Example Relay support</a>"));
}

}  // namespace policyd
