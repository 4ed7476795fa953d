// PolicyRequest: first value wins, stage names map exactly, and numbers from the network read
// as 0 when malformed and saturate instead of wrapping.
#include "core/policy_request.h"

#include <doctest/doctest.h>

#include <limits>
#include <string>
#include <vector>

namespace policyd {

TEST_CASE("policy_request: Get returns the first value, Has tells absent from empty") {
  PolicyRequest r;
  r.Add("sender", "first@example.com");
  r.Add("sender", "second@example.com");
  r.Add("recipient", "");
  CHECK(r.Get("sender") == "first@example.com");
  CHECK(r.Sender() == "first@example.com");
  CHECK(r.Get("recipient") == "");
  CHECK(r.Has("recipient"));
  CHECK(r.Get("size") == "");
  CHECK_FALSE(r.Has("size"));
  CHECK_FALSE(r.Has("Sender"));  // names are case-sensitive, as Postfix sends them
  CHECK(r.attributes().size() == 3);
}

TEST_CASE("policy_request: typed accessors read their attributes") {
  PolicyRequest r;
  r.Add("protocol_state", "RCPT");
  r.Add("sasl_username", "alice");
  r.Add("sender", "a@example.com");
  r.Add("recipient", "b@example.net");
  r.Add("client_address", "192.0.2.1");
  r.Add("instance", "1a.2b.3c");
  CHECK(r.StateName() == "RCPT");
  CHECK(r.SaslUsername() == "alice");
  CHECK(r.Sender() == "a@example.com");
  CHECK(r.Recipient() == "b@example.net");
  CHECK(r.ClientAddress() == "192.0.2.1");
  CHECK(r.Instance() == "1a.2b.3c");
}

TEST_CASE("policy_request: State maps RCPT and END-OF-MESSAGE exactly, the rest is other") {
  struct Case {
    const char* name;
    ProtocolState want;
  };
  std::vector<Case> cases = {
      {"RCPT", ProtocolState::kRcpt},
      {"END-OF-MESSAGE", ProtocolState::kEndOfMessage},
      {"DATA", ProtocolState::kOther},
      {"CONNECT", ProtocolState::kOther},
      {"MAIL", ProtocolState::kOther},
      {"rcpt", ProtocolState::kOther},
      {"RCPT ", ProtocolState::kOther},
      {"END-OF-MESSAGE\r", ProtocolState::kOther},
      {"", ProtocolState::kOther},
  };
  for (const Case& c : cases) {
    CAPTURE(c.name);
    PolicyRequest r;
    r.Add("protocol_state", c.name);
    CHECK(r.State() == c.want);
  }
  CHECK(PolicyRequest().State() == ProtocolState::kOther);
  PolicyRequest twice;
  twice.Add("protocol_state", "DATA");
  twice.Add("protocol_state", "RCPT");
  CHECK(twice.State() == ProtocolState::kOther);
}

TEST_CASE("policy_request: RecipientCount and Size read garbage as 0 and saturate on overflow") {
  constexpr uint64_t kMax = std::numeric_limits<uint64_t>::max();
  struct Case {
    std::string text;
    uint64_t want;
  };
  std::vector<Case> cases = {
      {"", 0},
      {"0", 0},
      {"1", 1},
      {"007", 7},
      {"12345", 12345},
      {"18446744073709551614", kMax - 1},
      {"18446744073709551615", kMax},
      {"18446744073709551616", kMax},
      {"99999999999999999999999999999999", kMax},
      {"-1", 0},
      {"+1", 0},
      {" 1", 0},
      {"1 ", 0},
      {"1.5", 0},
      {"0x10", 0},
      {"1e3", 0},
      {"abc", 0},
      {std::string("1\0", 2), 0},
      {"99999999999999999999999x", 0},  // malformed even after the digits overflow
  };
  for (const Case& c : cases) {
    CAPTURE(c.text);
    PolicyRequest r;
    r.Add("recipient_count", c.text);
    r.Add("size", c.text);
    CHECK(r.RecipientCount() == c.want);
    CHECK(r.Size() == c.want);
  }
  CHECK(PolicyRequest().RecipientCount() == 0);
  CHECK(PolicyRequest().Size() == 0);
}

}  // namespace policyd
