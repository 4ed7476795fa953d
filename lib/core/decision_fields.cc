#include "core/decision_fields.h"

namespace policyd {
namespace {

// Sets *field to value unless an earlier attribute of the same name already did.
void First(bool* seen, std::string_view* field, std::string_view value) {
  if (*seen) return;
  *seen = true;
  *field = value;
}

}  // namespace

DecisionFields ReadDecisionFields(const PolicyRequest& request) {
  DecisionFields f;
  std::string_view state, recipient_count, size;
  bool seen[10] = {};
  for (const auto& [name_string, value] : request.attributes()) {
    // string_view compares sizes first; std::string == "literal" runs strlen and memcmp.
    std::string_view name = name_string;
    if (name == "protocol_state") First(&seen[0], &state, value);
    else if (name == "sasl_username") First(&seen[1], &f.sasl_username, value);
    else if (name == "sender") First(&seen[2], &f.sender, value);
    else if (name == "recipient") First(&seen[3], &f.recipient, value);
    else if (name == "client_address") First(&seen[4], &f.client_address, value);
    else if (name == "client_port") First(&seen[5], &f.client_port, value);
    else if (name == "instance") First(&seen[6], &f.instance, value);
    else if (name == "queue_id") First(&seen[7], &f.queue_id, value);
    else if (name == "recipient_count") First(&seen[8], &recipient_count, value);
    else if (name == "size") First(&seen[9], &size, value);
  }
  f.state = ParseProtocolState(state);
  f.recipient_count = ParsePolicyCount(recipient_count);
  f.size = ParsePolicyCount(size);
  return f;
}

}  // namespace policyd
