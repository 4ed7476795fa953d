// Abuse signals from outside (policyctl signal, POST /api/v1/signals): parsing and
// validation of a batch before anything reaches Redis. DESIGN §3 "Escalation".
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"

namespace policyd {

inline constexpr std::size_t kMaxSignalBatch = 1000;
inline constexpr std::size_t kMaxEvidenceBytes = 1000;
inline constexpr std::size_t kMaxFeedbackIdBytes = 128;

struct Signal {
  std::string subject;   // as given: "user:alice"
  std::string tag;       // escaped key tag: ParseBlockSubject(subject)
  std::string kind;      // complaint, bounce, spam, bad_recipient, list_bombing
  std::string evidence;  // free text, at most kMaxEvidenceBytes
  // Identifies the feedback message (an ARF report, a DSN) so that the same one ingested
  // twice counts once; "" = none. Printable ASCII without spaces, at most kMaxFeedbackIdBytes.
  std::string feedback_id;
};

bool IsSignalKind(std::string_view kind);

// One signal from its parts; the error names the bad value.
Result<Signal> MakeSignal(std::string_view subject, std::string_view kind,
                          std::string_view evidence, std::string_view feedback_id = {});

// JSON: {"signals": [{"subject": "user:alice", "kind": "complaint", "evidence": "...",
//                     "id": "optional feedback id"}, ...]}
// or the bare array. 1..kMaxSignalBatch entries. The error says which entry and why.
Result<std::vector<Signal>> ParseSignalBatch(std::string_view json);

}  // namespace policyd
