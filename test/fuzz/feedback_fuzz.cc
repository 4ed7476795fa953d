// Fuzzes policyd-feedback's parsing (issue 18) with whole messages, as a feedback loop or a
// bouncing MTA could send them (seeds: test/data/feedback). Invariants, beyond "no crash":
//  - bounded: at most kMaxRecipientsPerReport hard failures; every string the parse returns
//    is printable ASCII (it reaches logs and evidence);
//  - a reason: an ignored message says why;
//  - nobody is credited without a stamp made with the secret: no input the fuzzer can write
//    carries one (it would need the HMAC key), so CreditFeedback credits nothing, ever;
//  - ParseFieldBlocks never returns an empty block or a field with an empty name.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "core/config.h"
#include "feedback/feedback_parse.h"
#include "feedback/feedback_signals.h"
#include "fuzz_check.h"

namespace {

bool Printable(const std::string& s) {
  for (char c : s) {
    if (c < ' ' || c > '~') return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace policyd;
  using namespace policyd::feedback;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  FeedbackReport r = ParseFeedback(input, "X-Policyd-Sender");
  FUZZ_CHECK(r.hard.size() <= kMaxRecipientsPerReport);
  FUZZ_CHECK(r.kind != FeedbackKind::kIgnored || !r.why.empty());
  for (const std::string* s : {&r.why, &r.report_id, &r.stamp, &r.original_id, &r.feedback_type,
                               &r.original_rcpt, &r.reporter}) {
    FUZZ_CHECK(Printable(*s));
  }
  for (const FailedRecipient& f : r.hard) {
    FUZZ_CHECK(Printable(f.recipient) && Printable(f.status) && Printable(f.diagnostic));
    FUZZ_CHECK(f.status.size() >= 5 && f.status[0] == '5');
  }
  Config config;
  config.feedback.stamp_secret = "fuzz-secret-0123456789abcdef";
  Credit credit = CreditFeedback(r, input, config, 1'800'000'000'000);
  FUZZ_CHECK(credit.signals.empty());
  FUZZ_CHECK(!credit.why.empty());
  for (const FieldBlock& block : ParseFieldBlocks(input)) {
    FUZZ_CHECK(!block.empty());
    for (const auto& [name, value] : block) FUZZ_CHECK(!name.empty());
  }
  return 0;
}
