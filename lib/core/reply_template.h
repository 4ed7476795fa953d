// Reply templates from [messages] (DESIGN §3 "Reply texts"): checked once at load, filled per
// request. Every value placed into a reply is sanitised here and nowhere else: no CR, LF or
// control bytes, ASCII only, the whole reply under kMaxReplyChars.
#pragma once

#include <cstddef>
#include <map>
#include <string>
#include <string_view>

#include "core/result.h"

namespace policyd {

// Postfix prefixes a reply and cuts at 510; staying under 400 leaves room for the prefix.
inline constexpr std::size_t kMaxReplyChars = 400;

enum class TemplatePurpose {
  kReject,  // ACL and ABUSE: must start with a 5xx code
  kDefer,   // rate limit and failure: must start with a 4xx code
};

// A valid template starts with a 3-digit code of the purpose's class, optionally followed by
// an enhanced status code (X.Y.Z with the same first digit), and has non-space text after
// each (Postfix reads a bare "550" as OK and garbles "550 5.7.1" with nothing after it), also
// with every placeholder empty.
// Only known placeholders: {report_url} {metric} {count} {max} {window} {retry_after} {user}
// {domain}; "{{" and "}}" are literal braces. The error names the problem.
Status CheckReplyTemplate(std::string_view text, TemplatePurpose purpose);

// Makes a value safe to put into a reply: bytes outside printable ASCII become '?'.
std::string SanitizeReplyValue(std::string_view value);

// Fills a checked template. Unknown or missing placeholders become "". The result is
// sanitised and cut to kMaxReplyChars (never inside the leading code). When the values leave
// no text after the code (empty or blank, or pushing the text past the cut), the reply is the
// template with every value empty, which CheckReplyTemplate ensures has text.
std::string FillReplyTemplate(std::string_view text,
                              const std::map<std::string, std::string>& values);

// "action=<text>\n\n": the wire form of one reply.
std::string FormatPolicyReply(std::string_view action_text);

}  // namespace policyd
