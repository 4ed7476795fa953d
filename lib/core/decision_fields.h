// The attributes of a policy request that a decision reads, found in one pass over the
// request (PolicyRequest::Get scans the whole attribute list on every call, and building one
// decision's arguments used to call it about 30 times).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "core/policy_request.h"

namespace policyd {

// Views into the PolicyRequest it was read from: valid while that request lives unchanged.
// Absent attributes are "" (as PolicyRequest::Get), malformed numbers 0.
struct DecisionFields {
  ProtocolState state = ProtocolState::kOther;
  std::string_view sasl_username;
  std::string_view sender;
  std::string_view recipient;
  std::string_view client_address;
  std::string_view client_port;
  std::string_view instance;
  std::string_view queue_id;
  uint64_t recipient_count = 0;
  uint64_t size = 0;
};

// The first attribute of each name wins, as with PolicyRequest::Get.
DecisionFields ReadDecisionFields(const PolicyRequest& request);

// DecisionFields that own their text, for a decision that outlives its request (the RCPT
// pre-check runs decide.lua only after Redis has answered its reads).
struct OwnedDecisionFields {
  OwnedDecisionFields() = default;
  explicit OwnedDecisionFields(const DecisionFields& f)
      : state(f.state), sasl_username(f.sasl_username), sender(f.sender),
        recipient(f.recipient), client_address(f.client_address), client_port(f.client_port),
        instance(f.instance), queue_id(f.queue_id), recipient_count(f.recipient_count),
        size(f.size) {}
  // Views into this (valid while it lives unchanged).
  DecisionFields View() const {
    return {state, sasl_username, sender, recipient, client_address, client_port, instance,
            queue_id, recipient_count, size};
  }

  ProtocolState state = ProtocolState::kOther;
  std::string sasl_username, sender, recipient, client_address, client_port, instance,
      queue_id;
  uint64_t recipient_count = 0, size = 0;
};

}  // namespace policyd
