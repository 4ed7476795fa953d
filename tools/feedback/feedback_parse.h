// policyd-feedback's pure part: what one feedback message (as Postfix's pipe(8) hands it over)
// says. MIME structure is GMime's (libgmime-3.0); the few "Name: value" fields of the
// machine-readable parts (RFC 5965 message/feedback-report, RFC 3464 message/delivery-status)
// are read here. No I/O, no Redis: tools/feedback/feedback_main.cc does that.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace policyd::feedback {

inline constexpr std::size_t kMaxFeedbackMessageBytes = 10 * 1024 * 1024;
inline constexpr std::size_t kMaxRecipientsPerReport = 1000;

enum class FeedbackKind {
  kIgnored,    // not a report we act on (logged and dropped: exit 0)
  kComplaint,  // an ARF report (multipart/report; report-type=feedback-report)
  kBounce,     // a DSN (multipart/report; report-type=delivery-status), Postfix's included
};

struct FailedRecipient {
  std::string recipient;   // Final-Recipient (or Original-Recipient) address, as given
  std::string status;      // "5.1.1"
  std::string diagnostic;  // Diagnostic-Code, bounded
};

struct FeedbackReport {
  FeedbackKind kind = FeedbackKind::kIgnored;
  std::string why;             // a line for the log: what it is, or why it is ignored
  std::string report_id;       // the report's Message-ID, or "" (then the caller hashes it)
  std::string stamp;           // the topmost stamp header of the original message, "" if none
  std::string original_id;     // the original message's Message-ID, if quoted
  std::string feedback_type;   // ARF: abuse, fraud, virus, other, ...
  std::string original_rcpt;   // ARF: Original-Rcpt-To (may be redacted)
  std::string reporter;        // ARF: Reporting-MTA or User-Agent; DSN: Reporting-MTA
  std::vector<FailedRecipient> hard;  // DSN: permanent (5.x.x) failures, at most the max
  std::size_t soft = 0;               // DSN: recipients with 4.x.x or not failed: not counted
};

// Parses one message. stamp_header: the header policyd stamps ([feedback] stamp_header).
// Never throws; anything malformed becomes kIgnored with a reason.
FeedbackReport ParseFeedback(std::string_view message, std::string_view stamp_header);

// "Name: value" fields in blocks separated by blank lines (RFC 3464 §2.1, RFC 5965 §3.1):
// names lower-cased, continuation lines unfolded, values trimmed. Bounded: at most 2,000
// blocks of 200 fields.
using FieldBlock = std::vector<std::pair<std::string, std::string>>;
std::vector<FieldBlock> ParseFieldBlocks(std::string_view text);

// The address of an RFC 3464 address field: "rfc822; user@example.com" -> "user@example.com".
std::string AddressOfTypedField(std::string_view value);

}  // namespace policyd::feedback
