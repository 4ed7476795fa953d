// policyd-feedback's parsing and crediting (issue 18) over the samples in test/data/feedback/
// (README there says what each exercises). {{STAMP}} in a sample becomes a real stamp.
#include "feedback/feedback_parse.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>

#include "core/sender_stamp.h"
#include "feedback/feedback_signals.h"

namespace policyd::feedback {
namespace {

constexpr std::string_view kSecret = "feedback-secret-0123456789";
constexpr uint64_t kNow = 1'800'000'000'000;

std::string Replace(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size())) {
    s.replace(at, from.size(), to);
  }
  return s;
}

std::string Sample(const std::string& name, const std::string& user = "alice",
                   const std::string& sender = "news@customer.example") {
  std::ifstream in(std::string(POLICYD_SOURCE_DIR) + "/test/data/feedback/" + name);
  REQUIRE(in.good());
  std::stringstream text;
  text << in.rdbuf();
  std::string s = Replace(text.str(), "{{STAMP}}",
                          MakeSenderStamp(kSecret, {user, sender, kNow - 1000}));
  return Replace(s, "{{OTHER_STAMP}}", MakeSenderStamp(kSecret, {"bob", "", kNow - 1000}));
}

Config FeedbackConfig() {
  Config c;
  c.feedback.stamp_secret = std::string(kSecret);
  return c;
}

Credit CreditOf(const std::string& raw, const Config& c = FeedbackConfig()) {
  return CreditFeedback(ParseFeedback(raw, c.feedback.stamp_header), raw, c, kNow);
}

std::vector<std::string> Subjects(const Credit& c) {
  std::vector<std::string> out;
  for (const Signal& s : c.signals) out.push_back(s.subject + " " + s.kind);
  return out;
}

}  // namespace

TEST_CASE("feedback: an ARF report is one complaint for the stamped user and sender") {
  for (const char* name : {"arf-abuse-full.eml", "arf-headers-only-redacted.eml",
                           "arf-message-headers-only.eml"}) {
    CAPTURE(name);
    std::string raw = Sample(name);
    FeedbackReport r = ParseFeedback(raw, "X-Policyd-Sender");
    CHECK(r.kind == FeedbackKind::kComplaint);
    CHECK(r.feedback_type == "abuse");
    CHECK_FALSE(r.stamp.empty());
    CHECK_FALSE(r.report_id.empty());
    Credit c = CreditOf(raw);
    CHECK(Subjects(c) == std::vector<std::string>{"user:alice complaint",
                                                  "sender:news@customer.example complaint"});
    CHECK(c.signals[0].feedback_id == c.signals[1].feedback_id);
    CHECK(c.signals[0].feedback_id.starts_with("fb-"));
  }
  FeedbackReport full = ParseFeedback(Sample("arf-abuse-full.eml"), "X-Policyd-Sender");
  CHECK(full.original_rcpt == "<user@mail.example.net>");
  CHECK(full.original_id == "8787KJKJ3K4J3K4J3K4J3.mail@customer.example");
  CHECK(full.reporter == "dns; mail.example.net");
  FeedbackReport redacted =
      ParseFeedback(Sample("arf-headers-only-redacted.eml"), "X-Policyd-Sender");
  CHECK(redacted.original_rcpt == "redacted@fbl.example.com");
  CHECK(redacted.original_id == "weekly-42@customer.example");
}

TEST_CASE("feedback: the same report always has the same feedback id, another report another") {
  std::string raw = Sample("arf-abuse-full.eml");
  CHECK(CreditOf(raw).signals[0].feedback_id == CreditOf(raw).signals[0].feedback_id);
  // A fresh stamp in the same report (same Message-ID) is still the same report.
  CHECK(CreditOf(Sample("arf-abuse-full.eml")).signals[0].feedback_id ==
        CreditOf(raw).signals[0].feedback_id);
  CHECK(CreditOf(Sample("arf-headers-only-redacted.eml")).signals[0].feedback_id !=
        CreditOf(raw).signals[0].feedback_id);
}

TEST_CASE("feedback: a DSN is one bounce per permanently failed recipient, none for 4.x.x") {
  std::string raw = Sample("dsn-rfc3464.eml");
  FeedbackReport r = ParseFeedback(raw, "X-Policyd-Sender");
  REQUIRE(r.kind == FeedbackKind::kBounce);
  REQUIRE(r.hard.size() == 2);
  CHECK(r.hard[0].recipient == "louisl@dest.example");
  CHECK(r.hard[0].status == "5.1.1");
  CHECK(r.hard[1].recipient == "lost@dest.example");
  CHECK(r.soft == 1);
  Credit c = CreditOf(raw);
  CHECK(c.signals.size() == 4);  // 2 recipients x (user, sender)
  CHECK(c.signals[0].feedback_id != c.signals[2].feedback_id);
  CHECK(c.signals[0].evidence.find("5.1.1 louisl@dest.example") == 0);

  FeedbackReport soft = ParseFeedback(Sample("dsn-soft-only.eml"), "X-Policyd-Sender");
  CHECK(soft.kind == FeedbackKind::kBounce);
  CHECK(soft.hard.empty());
  CHECK(soft.soft == 2);
  CHECK(CreditOf(Sample("dsn-soft-only.eml")).signals.empty());
}

TEST_CASE("feedback: a bounce and its postmaster copy (one stamp, one recipient) count once") {
  std::string stamp = MakeSenderStamp(kSecret, {"alice", "", kNow});
  auto with = [&](const char* name) {
    return Replace(Replace(Sample(name), "gone@dest.example", "nobody@dest.example"),
                   "X-Policyd-Sender: ", "X-Policyd-Sender: " + stamp + "\nX-Old: ");
  };
  Credit bounce = CreditOf(with("postfix-bounce.eml"));
  Credit copy = CreditOf(with("postfix-notify-bounce.eml"));
  REQUIRE(bounce.signals.size() == 1);
  REQUIRE(copy.signals.size() == 1);
  CHECK(bounce.signals[0].feedback_id == copy.signals[0].feedback_id);
}

TEST_CASE("feedback: Postfix bounces and notify_classes = bounce copies are DSNs") {
  for (const char* name : {"postfix-bounce.eml", "postfix-notify-bounce.eml"}) {
    CAPTURE(name);
    Credit c = CreditOf(Sample(name));
    CHECK(Subjects(c) == std::vector<std::string>{"user:alice bounce",
                                                  "sender:news@customer.example bounce"});
  }
  FeedbackReport r = ParseFeedback(Sample("postfix-bounce.eml"), "X-Policyd-Sender");
  REQUIRE(r.hard.size() == 1);
  CHECK(r.hard[0].diagnostic.find("User unknown") != std::string::npos);
}

TEST_CASE("feedback: a forged, altered, copied-below or missing stamp credits nobody") {
  std::string raw = Sample("arf-abuse-full.eml");
  std::size_t at = raw.find("X-Policyd-Sender: ") + 20;
  std::string altered = raw;
  altered[at] = altered[at] == 'A' ? 'B' : 'A';
  CHECK(CreditOf(altered).signals.empty());
  CHECK(CreditOf(altered).why.find("credited to nobody") != std::string::npos);
  Config other = FeedbackConfig();
  other.feedback.stamp_secret = "another-secret-0123456789";
  CHECK(CreditOf(raw, other).signals.empty());
  CHECK(CreditOf(Replace(raw, "X-Policyd-Sender:", "X-Other:")).signals.empty());
  // Only the topmost stamp counts: the one below, copied by the sender, names bob.
  Credit copied = CreditOf(Sample("arf-copied-stamp-below.eml"));
  CHECK(Subjects(copied) == std::vector<std::string>{"user:alice complaint",
                                                     "sender:news@customer.example complaint"});
  // Too old a stamp.
  Config young = FeedbackConfig();
  young.feedback.stamp_max_age_ms = 100;
  CHECK(CreditOf(raw, young).signals.empty());
}

TEST_CASE("feedback: anything else is ignored with a reason") {
  for (const char* name : {"not-a-report.eml", "mdn-other-report.eml"}) {
    CAPTURE(name);
    std::string raw = Sample(name);
    CHECK(ParseFeedback(raw, "X-Policyd-Sender").kind == FeedbackKind::kIgnored);
    Credit c = CreditOf(raw);
    CHECK(c.signals.empty());
    CHECK(c.why.starts_with("ignored: "));
  }
  CHECK(ParseFeedback("", "X-Policyd-Sender").kind == FeedbackKind::kIgnored);
  CHECK(ParseFeedback(std::string(kMaxFeedbackMessageBytes + 1, 'x'), "X").kind ==
        FeedbackKind::kIgnored);
}

TEST_CASE("feedback: field blocks and typed addresses") {
  auto b = ParseFieldBlocks("Reporting-MTA: dns; a\r\n\r\nFinal-Recipient: rfc822; <x@y>\n"
                            "Diagnostic-Code: smtp; 550\n  folded\nno colon here\n\n\n");
  REQUIRE(b.size() == 2);
  CHECK(b[0][0] == std::make_pair(std::string("reporting-mta"), std::string("dns; a")));
  CHECK(b[1][1].second == "smtp; 550 folded");
  CHECK(AddressOfTypedField(b[1][0].second) == "x@y");
  CHECK(AddressOfTypedField("rfc822;louisl@dest.example") == "louisl@dest.example");
  CHECK(AddressOfTypedField("") == "");
}

TEST_CASE("feedback: a field block never holds a field without a name") {
  // Found by the feedback fuzz target: a folded line at the start of a block and a line
  // whose name is only blanks ("Return-Pat\n :><h") gave a field named "".
  auto b = ParseFieldBlocks("Return-Pat\n :><h\n\t: x\n  : y\nAction: failed\n");
  REQUIRE(b.size() == 1);
  REQUIRE(b[0].size() == 1);
  CHECK(b[0][0] == std::make_pair(std::string("action"), std::string("failed")));
}

}  // namespace policyd::feedback
