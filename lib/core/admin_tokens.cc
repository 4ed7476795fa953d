#include "core/admin_tokens.h"

#include <fmt/format.h>
#include <openssl/crypto.h>

namespace policyd {
namespace {

constexpr std::size_t kMinTokenChars = 16;

// scope and token of "read:TOKEN"; scope kNone when malformed.
AdminScope Split(std::string_view entry, std::string_view* token) {
  auto colon = entry.find(':');
  if (colon == std::string_view::npos) return AdminScope::kNone;
  std::string_view scope = entry.substr(0, colon);
  *token = entry.substr(colon + 1);
  if (token->size() < kMinTokenChars) return AdminScope::kNone;
  if (scope == "read") return AdminScope::kRead;
  if (scope == "write") return AdminScope::kWrite;
  return AdminScope::kNone;
}

}  // namespace

std::string CheckAdminTokenEntries(const std::vector<std::string>& entries) {
  std::size_t n = 0;
  for (const std::string& e : entries) {
    ++n;
    std::string_view token;
    AdminScope scope = Split(e, &token);
    if (scope == AdminScope::kNone) {
      return fmt::format("entry {}: expected \"read:TOKEN\" or \"write:TOKEN\" with a TOKEN of "
                         "{}+ characters",
                         n, kMinTokenChars);
    }
    for (char c : token) {
      if (c <= ' ' || c > '~') {
        return fmt::format("entry {}: the token must be printable ASCII without spaces", n);
      }
    }
  }
  return "";
}

AdminScope AdminScopeOf(std::string_view header, const std::vector<std::string>& entries) {
  constexpr std::string_view kBearer = "Bearer ";
  if (header.substr(0, kBearer.size()) != kBearer) return AdminScope::kNone;
  std::string_view given = header.substr(kBearer.size());
  AdminScope best = AdminScope::kNone;
  for (const std::string& e : entries) {
    std::string_view token;
    AdminScope scope = Split(e, &token);
    bool match = scope != AdminScope::kNone && given.size() == token.size() &&
                 CRYPTO_memcmp(given.data(), token.data(), token.size()) == 0;
    if (match && scope > best) best = scope;
  }
  return best;
}

}  // namespace policyd
