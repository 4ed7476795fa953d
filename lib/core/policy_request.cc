#include "core/policy_request.h"

#include <limits>

namespace policyd {

uint64_t ParsePolicyCount(std::string_view s) {
  for (char c : s) {
    if (c < '0' || c > '9') return 0;  // garbage is 0 even when its digits would overflow
  }
  uint64_t v = 0;
  for (char c : s) {
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (v > (std::numeric_limits<uint64_t>::max() - digit) / 10) {
      return std::numeric_limits<uint64_t>::max();
    }
    v = v * 10 + digit;
  }
  return v;
}

ProtocolState ParseProtocolState(std::string_view s) {
  if (s == "RCPT") return ProtocolState::kRcpt;
  if (s == "END-OF-MESSAGE") return ProtocolState::kEndOfMessage;
  return ProtocolState::kOther;
}

std::string_view PolicyRequest::Get(std::string_view name) const {
  for (const auto& [n, v] : attributes_) {
    if (n == name) return v;
  }
  return {};
}

bool PolicyRequest::Has(std::string_view name) const {
  for (const auto& a : attributes_) {
    if (a.first == name) return true;
  }
  return false;
}

ProtocolState PolicyRequest::State() const { return ParseProtocolState(Get("protocol_state")); }

uint64_t PolicyRequest::RecipientCount() const { return ParsePolicyCount(Get("recipient_count")); }
uint64_t PolicyRequest::Size() const { return ParsePolicyCount(Get("size")); }

}  // namespace policyd
