// The only place that turns names from the network into parts of Redis keys (DESIGN §5).
// Keys look like PREFIX TYPE ":{" KIND ":" NAME "}" [":" REST], e.g. "pd:block:{user:alice}";
// everything of one subject shares the "{KIND:NAME}" hash tag. NAME is escaped so that it
// can never close the tag or hide in another subject's keys: every byte outside printable
// ASCII, and '{', '}', '%', is written as %XX. Escaping is injective, so two different names
// never share a key. The Lua scripts receive tags built here and never escape anything.
#pragma once

#include <string>
#include <string_view>

#include "core/config.h"
#include "core/result.h"

namespace policyd {

std::string EscapeKeyName(std::string_view name);

// "user:" + EscapeKeyName(name), and so on; "" for an empty name (no such subject).
std::string SubjectTag(SubjectKind kind, std::string_view name);

// PREFIX + type + ":{" + tag + "}" (+ ":" + rest when rest is not empty).
std::string BuildKey(std::string_view prefix, std::string_view type, std::string_view tag,
                     std::string_view rest = {});

// Account names are chosen by operators (policyctl) and used by scripts without escaping:
// 1-64 bytes of [A-Za-z0-9._-].
bool IsValidAccountName(std::string_view name);

// A block or signal subject as operators and the API write it: "user:NAME" or
// "sender:ADDRESS" (never an account, DESIGN §3) -> its escaped tag. The error names the value.
Result<std::string> ParseBlockSubject(std::string_view text);

// The envelope sender's domain for ACL decisions: after the last '@', lower-cased, without a
// trailing dot; "" when there is none or it is not a plausible DNS name (1-253 bytes of
// [a-z0-9.-_], no empty label). An invalid domain never matches a grant.
std::string SenderDomain(std::string_view sender);

// Lower-cased sender address for the sender:ADDRESS subject.
std::string NormalizeSender(std::string_view sender);

// Domain names from operators (policyctl domain add, grant): a valid domain as above, or
// "*." followed by one.
bool IsValidDomainPattern(std::string_view pattern);

// `text` with the glob characters of SCAN MATCH (* ? [ ] \) escaped, so that a key prefix
// in a pattern matches only itself.
std::string GlobEscape(std::string_view text);

}  // namespace policyd
