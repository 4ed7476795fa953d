// Spam verdicts from Rspamd (issue 18): what its metadata_exporter posts with the "json"
// formatter (rspamd/plugins/metadata_exporter.lua get_general_metadata: user, qid, action,
// score, symbols, ...) read into a value, and turned into a `spam` signal for the SMTP user.
// Pure; lib/http/rspamd_route.cc serves POST /api/v1/rspamd with it.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/result.h"
#include "core/signals.h"

namespace policyd {

inline constexpr std::size_t kMaxRspamdSymbols = 50;

struct RspamdVerdict {
  std::string user;    // authenticated user; "" when Rspamd saw none ("unknown")
  std::string qid;     // Postfix queue id, "" if unknown
  std::string action;  // "reject", "add header", "rewrite subject", "soft reject", ...
  double score = 0;
  std::vector<std::string> symbols;  // "NAME(score)", highest score first, at most the max
};

// Authorization of the endpoint: "Bearer TOKEN", or "Basic" with TOKEN as the password (any
// user name: metadata_exporter's http backend sends its user/password settings that way).
// Constant-time; false for an empty token.
bool RspamdAuthMatches(std::string_view authorization, std::string_view token);

// The JSON body; the error says what is missing or malformed.
Result<RspamdVerdict> ParseRspamdVerdict(std::string_view json);

// The spam signal of a verdict (subject user:USER, evidence "rspamd reject score 1000.00:
// GTUBE(0.00), ... queue id X"), or nullopt with *why set when it is not one: no
// authenticated user, or an action that is not a spam verdict (no action, greylist).
std::optional<Signal> RspamdSignal(const RspamdVerdict& verdict, std::string* why);

}  // namespace policyd
