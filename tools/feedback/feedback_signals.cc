#include "feedback/feedback_signals.h"

#include <fmt/format.h>
#include <openssl/evp.h>

#include <algorithm>

#include "core/hex.h"
#include "core/redis_keys.h"
#include "core/sender_stamp.h"

namespace policyd::feedback {
namespace {

std::string Sha256Hex(std::string_view data, std::size_t bytes) {
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_Digest(data.data(), data.size(), md, &len, EVP_sha256(), nullptr);
  return HexLower(md, std::min<std::size_t>(len, bytes));
}

// One signal for the user and, when the stamp names one, one for the sender address.
void AddFor(const StampedSender& s, std::string_view kind, const std::string& evidence,
            const std::string& id, std::vector<Signal>* out) {
  for (const std::string& subject :
       {"user:" + s.user, s.sender.empty() ? std::string() : "sender:" + s.sender}) {
    if (subject.empty()) continue;
    Result<Signal> sig = MakeSignal(subject, kind, evidence.substr(0, kMaxEvidenceBytes), id);
    if (sig.ok()) out->push_back(std::move(*sig));
  }
}

}  // namespace

std::string FeedbackId(std::string_view report_identity, std::string_view recipient) {
  std::string text(report_identity);
  text.push_back('\0');
  text.append(recipient);
  return "fb-" + Sha256Hex(text, 16);
}

Credit CreditFeedback(const FeedbackReport& report, std::string_view raw, const Config& config,
                      uint64_t now_ms) {
  Credit out;
  if (report.kind == FeedbackKind::kIgnored) {
    out.why = "ignored: " + report.why;
    return out;
  }
  if (report.stamp.empty()) {
    out.why = report.why + "; the original message has no " + config.feedback.stamp_header +
              " header: credited to nobody";
    return out;
  }
  std::optional<StampedSender> s = VerifySenderStamp(config.feedback.stamp_secret, report.stamp);
  if (!s) {
    out.why = report.why + "; its " + config.feedback.stamp_header +
              " header is not one policyd made (forged, altered or another secret's): "
              "credited to nobody";
    return out;
  }
  if (s->time_ms + config.feedback.stamp_max_age_ms < now_ms) {
    out.why = report.why + "; its stamp is older than [feedback] stamp_max_age: credited to nobody";
    return out;
  }
  s->sender = NormalizeSender(s->sender);
  std::string identity = report.report_id.empty() ? Sha256Hex(raw, 32) : report.report_id;
  std::string original = report.original_id.empty() ? "" : " original " + report.original_id;
  if (report.kind == FeedbackKind::kComplaint) {
    std::string evidence = fmt::format(
        "{}{}{}", report.why, original,
        report.original_rcpt.empty() ? "" : " to " + report.original_rcpt);
    AddFor(*s, "complaint", evidence, FeedbackId(identity, ""), &out.signals);
  } else {
    for (const FailedRecipient& r : report.hard) {
      std::string reporter = report.reporter.empty() ? "" : " (" + report.reporter + ")";
      std::string evidence = fmt::format("{} {} {}{}{}", r.status, r.recipient, r.diagnostic,
                                         original, reporter);
      // The stamp is unique per message: a recipient's bounce and Postfix's copy of it to
      // the postmaster (notify_classes = bounce) count once.
      AddFor(*s, "bounce", evidence, FeedbackId(report.stamp, r.recipient), &out.signals);
    }
  }
  out.why = fmt::format("{}; credited to user:{}{}: {} signal(s)", report.why, s->user,
                        s->sender.empty() ? "" : " and sender:" + s->sender, out.signals.size());
  return out;
}

}  // namespace policyd::feedback
