// How policyd-bench reads a policy server's answers: a reply is "action=TEXT\n" and an empty
// line (Postfix's SMTPD_POLICY_README), and replies are tallied by the first word of TEXT,
// so one report covers policyd ("DUNNO", "421", "550", "451") and other servers' actions
// ("defer_if_permit", "REJECT"). Pure: tested in test/unit/bench/reply_test.cc.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace policyd::bench {

enum class ReplyStatus {
  kNeedMore,  // no complete reply in the buffer yet
  kReply,     // *label and *consumed are set
  kBad,       // the first line is not "action=..." (or is over kMaxReplyBytes)
};

// Longest reply accepted; Postfix itself cuts policy replies well below this.
inline constexpr std::size_t kMaxReplyBytes = 4096;

// Looks for one complete reply at the start of buffer. On kReply, *label is the tally label
// (see ReplyLabel) and *consumed the reply's length including its empty line.
ReplyStatus ParseReply(std::string_view buffer, std::string* label, std::size_t* consumed);

// The first word of an action, lower-cased and at most 24 bytes ("dunno", "421", "550",
// "defer_if_permit"); "" for an empty action.
std::string ReplyLabel(std::string_view action);

}  // namespace policyd::bench
