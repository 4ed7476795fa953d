// The sender stamp (issue 18): round trip, opacity, and that a forged, altered, truncated or
// foreign stamp credits nobody; the PREPEND answer only at the first RCPT of a transaction.
#include "core/sender_stamp.h"

#include <doctest/doctest.h>

#include <string>

namespace policyd {
namespace {

constexpr std::string_view kStampSecret = "stamp-secret-0123456789";

PolicyRequest Rcpt(const std::string& instance, const std::string& user = "alice",
                   const std::string& state = "RCPT") {
  PolicyRequest r;
  r.Add("request", "smtpd_access_policy");
  r.Add("protocol_state", state);
  r.Add("sasl_username", user);
  r.Add("sender", "News@Example.com");
  r.Add("instance", instance);
  return r;
}

Verdict Dunno(std::string rule = "counted") {
  Verdict v;
  v.rule = std::move(rule);
  return v;
}

Config StampConfig() {
  Config c;
  c.feedback.stamp_secret = std::string(kStampSecret);
  return c;
}

}  // namespace

TEST_CASE("sender_stamp: a stamp names its user and sender, and only to the secret's holder") {
  std::string token = MakeSenderStamp(kStampSecret, {"alice", "news@example.com", 1234});
  REQUIRE_FALSE(token.empty());
  CHECK(token.find("alice") == std::string::npos);  // opaque to recipients
  CHECK(token.find("example") == std::string::npos);
  std::optional<StampedSender> s = VerifySenderStamp(kStampSecret, " " + token + "\r\n");
  REQUIRE(s);
  CHECK(s->user == "alice");
  CHECK(s->sender == "news@example.com");
  CHECK(s->time_ms == 1234);
  // A fresh IV each time: two stamps of the same sender differ.
  CHECK(MakeSenderStamp(kStampSecret, {"alice", "news@example.com", 1234}) != token);
  CHECK(VerifySenderStamp("another-secret-0123456789", token) == std::nullopt);
  CHECK(VerifySenderStamp("", token) == std::nullopt);
  CHECK(MakeSenderStamp("", {"alice", "", 1}).empty());
}

TEST_CASE("sender_stamp: every altered, truncated or forged token credits nobody") {
  std::string token = MakeSenderStamp(kStampSecret, {"alice", "", 99});
  for (std::size_t i = 0; i < token.size(); ++i) {
    std::string altered = token;
    altered[i] = altered[i] == 'A' ? 'B' : 'A';
    CAPTURE(i);
    CHECK(VerifySenderStamp(kStampSecret, altered) == std::nullopt);
  }
  for (std::size_t n = 0; n < token.size(); ++n) {
    CHECK(VerifySenderStamp(kStampSecret, token.substr(0, n)) == std::nullopt);
  }
  for (const char* forged : {"1.", "1..", "1.AAAA.AAAA", "2.x.y", "alice", "1.\xff\xfe.AA"}) {
    CHECK(VerifySenderStamp(kStampSecret, forged) == std::nullopt);
  }
  CHECK(VerifySenderStamp(kStampSecret, token + "A") == std::nullopt);
  CHECK(VerifySenderStamp(kStampSecret, std::string(5000, 'A')) == std::nullopt);
}

TEST_CASE("sender_stamp: unstampable names get no stamp") {
  CHECK(MakeSenderStamp(kStampSecret, {"", "a@b", 1}).empty());
  CHECK(MakeSenderStamp(kStampSecret, {"al\nice", "a@b", 1}).empty());
  CHECK(MakeSenderStamp(kStampSecret, {std::string(400, 'u'), "a@b", 1}).empty());
}

TEST_CASE("sender_stamp: PREPEND at the first RCPT of each transaction, DUNNO otherwise") {
  Config c = StampConfig();
  std::string last;
  std::string first = SenderStampAction(Rcpt("tx1"), Dunno(), c, 5, &last);
  REQUIRE(first.starts_with("PREPEND X-Policyd-Sender: 1."));
  std::optional<StampedSender> s =
      VerifySenderStamp(kStampSecret,
                        first.substr(std::string("PREPEND X-Policyd-Sender: ").size()));
  REQUIRE(s);
  CHECK(s->user == "alice");
  CHECK(s->sender == "news@example.com");  // normalised like the decision's sender
  CHECK(SenderStampAction(Rcpt("tx1"), Dunno(), c, 6, &last) == "");  // second recipient
  CHECK(SenderStampAction(Rcpt("tx1"), Dunno(), c, 7, &last) == "");
  CHECK_FALSE(SenderStampAction(Rcpt("tx2"), Dunno(), c, 8, &last).empty());  // next transaction
  CHECK(SenderStampAction(Rcpt("tx3", "alice", "END-OF-MESSAGE"), Dunno(), c, 9, &last) == "");
  CHECK(SenderStampAction(Rcpt("tx4", ""), Dunno(), c, 9, &last) == "");  // no SMTP user
  CHECK(SenderStampAction(Rcpt(""), Dunno(), c, 9, &last) == "");         // no instance
  c.feedback.stamp_header = "X-Relay-Id";
  CHECK(SenderStampAction(Rcpt("tx5"), Dunno(), c, 9, &last).starts_with("PREPEND X-Relay-Id: 1."));
  Config off;
  CHECK(SenderStampAction(Rcpt("tx6"), Dunno(), off, 9, &last) == "");
  // Refused, or a user policyd does not know: no stamp.
  Verdict refused = Dunno("acl");
  refused.action = Action::kAclReject;
  CHECK(SenderStampAction(Rcpt("tx7"), refused, c, 9, &last) == "");
  CHECK(SenderStampAction(Rcpt("tx8"), Dunno("unknown-user dunno"), c, 9, &last) == "");
  CHECK_FALSE(SenderStampAction(Rcpt("tx8"), Dunno("pre-check within limits"), c, 9, &last)
                  .empty());
}

}  // namespace policyd
