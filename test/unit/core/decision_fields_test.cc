#include "core/decision_fields.h"

#include <doctest/doctest.h>

namespace policyd {
namespace {

PolicyRequest Request(const std::vector<std::pair<std::string, std::string>>& attrs) {
  PolicyRequest r;
  for (const auto& [n, v] : attrs) r.Add(n, v);
  return r;
}

}  // namespace

TEST_CASE("decision_fields: one pass reads what the typed accessors read") {
  PolicyRequest r = Request({{"request", "smtpd_access_policy"},
                             {"protocol_state", "END-OF-MESSAGE"},
                             {"sasl_username", "alice"},
                             {"sender", "Alice@Example.com"},
                             {"recipient", "bob@example.net"},
                             {"client_address", "192.0.2.10"},
                             {"client_port", "40000"},
                             {"instance", "1a.2b.3c"},
                             {"queue_id", "ABC123"},
                             {"recipient_count", "3"},
                             {"size", "12345"}});
  DecisionFields f = ReadDecisionFields(r);
  CHECK(f.state == r.State());
  CHECK(f.state == ProtocolState::kEndOfMessage);
  CHECK(f.sasl_username == r.SaslUsername());
  CHECK(f.sender == r.Sender());
  CHECK(f.recipient == r.Recipient());
  CHECK(f.client_address == r.ClientAddress());
  CHECK(f.client_port == r.Get("client_port"));
  CHECK(f.instance == r.Instance());
  CHECK(f.queue_id == "ABC123");
  CHECK(f.recipient_count == 3);
  CHECK(f.size == 12345);
}

TEST_CASE("decision_fields: the first attribute of a name wins; absent is empty, garbage 0") {
  PolicyRequest r = Request({{"protocol_state", "RCPT"},
                             {"sasl_username", "first"},
                             {"sasl_username", "second"},
                             {"protocol_state", "END-OF-MESSAGE"},
                             {"size", "12x"},
                             {"recipient_count", "99999999999999999999999"}});
  DecisionFields f = ReadDecisionFields(r);
  CHECK(f.state == ProtocolState::kRcpt);
  CHECK(f.sasl_username == "first");
  CHECK(f.sasl_username == r.SaslUsername());
  CHECK(f.sender.empty());
  CHECK(f.instance.empty());
  CHECK(f.size == 0);
  CHECK(f.size == r.Size());
  CHECK(f.recipient_count == r.RecipientCount());
  CHECK(ReadDecisionFields(Request({{"protocol_state", "DATA"}})).state == ProtocolState::kOther);
}

}  // namespace policyd
