// From a parsed feedback message to the signals it means: the stamp of the quoted original is
// verified ([feedback] stamp_secret, constant time) and names the SMTP user and the sender
// address to credit; an ARF report is one complaint for each, a DSN one bounce for each
// permanently failed recipient. Pure: the caller ingests them (signal.lua).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.h"
#include "core/signals.h"
#include "feedback/feedback_parse.h"

namespace policyd::feedback {

struct Credit {
  std::vector<Signal> signals;  // empty: nothing to credit
  std::string why;              // a line for the log, whether or not anything is credited
};

// Feedback ids, so that the same feedback ingested twice counts once: an ARF report's is its
// Message-ID (raw, the whole message, hashed when it has none); a bounce's is the stamp (one
// per message) and the recipient, so a bounce and Postfix's postmaster copy count once.
Credit CreditFeedback(const FeedbackReport& report, std::string_view raw, const Config& config,
                      uint64_t now_ms);

// "fb-" and 32 hex digits of SHA-256 over the report's identity and the recipient.
std::string FeedbackId(std::string_view report_identity, std::string_view recipient);

}  // namespace policyd::feedback
