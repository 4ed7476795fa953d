// The sender stamp (DESIGN §3, issue 18): one header policyd adds to each message it accepts,
// at the first RCPT of the transaction (a PREPEND answer), so that a complaint or a bounce
// that quotes the message can be credited to the SMTP user and sender address that sent it.
//
// Token: "1." BASE64URL(IV || AES-256-CTR(PAYLOAD)) "." BASE64URL(HMAC-SHA256(..)[0..16)).
// PAYLOAD = USER "\n" SENDER "\n" TIME_MS. The encryption keeps the SMTP user name away from
// recipients (the id is opaque); the HMAC (encrypt-then-MAC, checked in constant time) means
// a forged or altered header credits nobody. Both keys are derived from [feedback]
// stamp_secret, so rotating the secret invalidates every stamp in flight.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/config.h"
#include "core/policy_request.h"
#include "core/verdict.h"

namespace policyd {

inline constexpr std::size_t kMaxStampTokenBytes = 900;  // a header line stays under 998

struct StampedSender {
  std::string user;    // sasl_username as sent
  std::string sender;  // envelope sender, lower-cased ("" for the null sender)
  uint64_t time_ms = 0;
};

// The token for user/sender at now_ms, or "" when the secret is empty or the token would be
// longer than kMaxStampTokenBytes.
std::string MakeSenderStamp(std::string_view secret, const StampedSender& sender);

// The sender of a token made with secret; nullopt for anything else (a forged, altered,
// truncated or foreign token). Whitespace around the token is ignored (folded headers).
std::optional<StampedSender> VerifySenderStamp(std::string_view secret, std::string_view token);

// The action that replaces a DUNNO verdict: "PREPEND NAME: TOKEN" at the first RCPT of a
// transaction of a known SMTP user (the first request of a new `instance` on this connection,
// kept in *last_instance), "" otherwise (then the reply stays DUNNO). Users policyd does not
// know ([policy] unknown_user = "dunno") are not stamped: there is no one to credit.
std::string SenderStampAction(const PolicyRequest& request, const Verdict& verdict,
                              const Config& config, uint64_t now_ms, std::string* last_instance);

}  // namespace policyd
