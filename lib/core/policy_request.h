// One Postfix policy delegation request (SMTPD_POLICY_README): the attributes in the order
// they arrived. A value object with no I/O; names and values are raw bytes from the network
// and must pass log_text / reply sanitising before reaching a log line or a reply.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace policyd {

// The stages we act on (DESIGN §3); everything else is kOther and answered DUNNO.
enum class ProtocolState { kRcpt, kEndOfMessage, kOther };

// "RCPT" and "END-OF-MESSAGE" (protocol_state's values we act on); anything else is kOther.
ProtocolState ParseProtocolState(std::string_view protocol_state);
// recipient_count / size: decimal digits only, else 0; saturates at the uint64_t maximum.
uint64_t ParsePolicyCount(std::string_view s);

class PolicyRequest {
 public:
  // Room for a whole request (Postfix 3.7 sends about 30 attributes): no regrowth while parsing.
  void Reserve(std::size_t attributes) { attributes_.reserve(attributes); }
  void Add(std::string name, std::string value) {
    attributes_.emplace_back(std::move(name), std::move(value));
  }
  // The value of the first attribute called name, or "" when absent (Postfix sends empty
  // values for facts it does not have, so absent and empty mean the same to us).
  std::string_view Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& attributes() const {
    return attributes_;
  }

  // Typed accessors for what decisions use.
  ProtocolState State() const;
  std::string_view StateName() const { return Get("protocol_state"); }
  std::string_view SaslUsername() const { return Get("sasl_username"); }
  std::string_view Sender() const { return Get("sender"); }
  std::string_view Recipient() const { return Get("recipient"); }
  std::string_view ClientAddress() const { return Get("client_address"); }
  std::string_view Instance() const { return Get("instance"); }
  // recipient_count / size as numbers; malformed or absent values read as 0.
  uint64_t RecipientCount() const;
  uint64_t Size() const;

 private:
  std::vector<std::pair<std::string, std::string>> attributes_;
};

}  // namespace policyd
