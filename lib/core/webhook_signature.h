// The X-Policyd-Signature header of a webhook delivery: "t=<unix seconds>,v1=<hex>", where hex
// is HMAC-SHA256(endpoint secret, "<t>.<body>") in lowercase hex. Signing the timestamp with
// the body lets a receiver refuse replays: it accepts a delivery only when t is within its
// replay window of its own clock (docs/operator-guide.md recommends 5 minutes), and a
// retried delivery is signed afresh with the time of that attempt.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

namespace policyd {

inline constexpr std::string_view kWebhookSignatureHeader = "X-Policyd-Signature";

// "t=1700000000,v1=5f2c..." for body signed at unix_seconds.
std::string WebhookSignature(std::string_view secret, int64_t unix_seconds, std::string_view body);

// A receiver's check (the tests' receiver, the guide's sample does the same in Python): the
// header parses, |now - t| <= window_seconds, and v1 equals the HMAC, compared in constant
// time. Unknown "k=v" parts are ignored, so a later v2 can be added beside v1.
bool VerifyWebhookSignature(std::string_view secret, std::string_view header, std::string_view body,
                            int64_t now_seconds, int64_t window_seconds);

}  // namespace policyd
