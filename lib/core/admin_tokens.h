// Bearer tokens of the HTTP admin API ([http] admin_tokens, issue 19): each entry is
// "read:TOKEN" or "write:TOKEN" (TOKEN 16+ characters). A read token may call GET routes, a
// write token every route. No token configured: the admin API is off (its paths are 404).
// Pure.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace policyd {

enum class AdminScope { kNone, kRead, kWrite };

// "" when every entry is well formed, else what is wrong with the first bad one (the token
// itself is never quoted).
std::string CheckAdminTokenEntries(const std::vector<std::string>& entries);

// The scope an Authorization header grants: every configured token is compared in constant
// time (no early exit), so the reply time does not tell which one nearly matched.
AdminScope AdminScopeOf(std::string_view authorization_header,
                        const std::vector<std::string>& entries);

}  // namespace policyd
