// policyd-bench's requests parse as Postfix requests, follow a message's RCPT ... END-OF-
// MESSAGE order with the asked-for mix, and never repeat a message identity.
#include "bench/workload.h"

#include <doctest/doctest.h>

#include <set>
#include <string>

#include "core/request_parser.h"

namespace policyd::bench {
namespace {

PolicyRequest Parse(const std::string& text) {
  RequestParser parser(ParserLimits{});
  std::size_t consumed = 0;
  REQUIRE(parser.Feed(text, &consumed) == RequestParser::Status::kRequest);
  REQUIRE(consumed == text.size());
  return parser.TakeRequest();
}

}  // namespace

TEST_CASE("workload: user names have redis-benchmark's 12-digit shape") {
  CHECK(UserName(0) == "u000000000000");
  CHECK(UserName(123456) == "u000000123456");
  CHECK(SenderAddress(7, "example.com") == "u000000000007@example.com");
  CHECK(ClientAddress(0x010203) == "10.1.2.3");
}

TEST_CASE("workload: half END-OF-MESSAGE means one RCPT per message") {
  WorkloadOptions o;
  o.users = 50;
  Workload w(3, o);
  for (int i = 0; i < 20; ++i) {
    std::string rcpt_text, eom_text;
    RequestFields rcpt = w.NextRequest(&rcpt_text);
    RequestFields eom = w.NextRequest(&eom_text);
    CHECK_FALSE(rcpt.eom);
    CHECK(eom.eom);
    CHECK(rcpt.user == eom.user);
    CHECK(rcpt.user < 50);
    PolicyRequest r = Parse(rcpt_text);
    PolicyRequest e = Parse(eom_text);
    CHECK(r.State() == ProtocolState::kRcpt);
    CHECK(e.State() == ProtocolState::kEndOfMessage);
    CHECK(r.SaslUsername() == UserName(rcpt.user));
    CHECK(r.Sender() == SenderAddress(rcpt.user, "example.com"));
    CHECK(r.ClientAddress() == ClientAddress(rcpt.user));
    CHECK(r.RecipientCount() == 0);
    CHECK(e.RecipientCount() == 1);
    CHECK(e.Recipient() == r.Recipient());  // one recipient: Postfix repeats it
    CHECK(e.Size() > 0);
    CHECK(e.Instance() == r.Instance());    // one message, one identity
    CHECK_FALSE(e.Get("queue_id").empty());
  }
}

TEST_CASE("workload: the END-OF-MESSAGE share follows eom_ratio") {
  for (double ratio : {0.0, 0.2, 0.5, 0.75, 1.0}) {
    WorkloadOptions o;
    o.eom_ratio = ratio;
    Workload w(0, o);
    int eoms = 0;
    std::set<std::string> instances;
    const int n = 4000;
    for (int i = 0; i < n; ++i) {
      std::string text;
      RequestFields f = w.NextRequest(&text);
      if (f.eom) {
        ++eoms;
        CHECK(instances.insert(f.instance).second);  // never a repeat of another message
        CHECK(f.recipient_count >= 1);
        CHECK(f.has_recipient == (f.recipient_count == 1));
      } else if (ratio == 0.0) {
        CHECK(instances.insert(f.instance).second);
      }
    }
    CHECK(eoms / static_cast<double>(n) == doctest::Approx(ratio).epsilon(0.03));
  }
}

TEST_CASE("workload: the same seed gives the same stream; connections differ") {
  WorkloadOptions o;
  Workload a(1, o), b(1, o), c(2, o);
  std::string ta, tb, tc;
  for (int i = 0; i < 10; ++i) {
    a.NextRequest(&ta);
    b.NextRequest(&tb);
    c.NextRequest(&tc);
  }
  CHECK(ta == tb);
  CHECK(ta != tc);
}

}  // namespace policyd::bench
