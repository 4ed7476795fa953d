#include "core/quota.h"

#include <doctest/doctest.h>

#include "core/admin_tokens.h"

namespace policyd {
namespace {

TEST_CASE("quota: [quota] time_zone is UTC or a fixed offset") {
  CHECK(*ParseUtcOffset("UTC") == 0);
  CHECK(*ParseUtcOffset("Z") == 0);
  CHECK(*ParseUtcOffset("+02:00") == 120);
  CHECK(*ParseUtcOffset("-05:30") == -330);
  CHECK(*ParseUtcOffset("+14:00") == 840);
  for (const char* bad : {"", "utc", "Europe/Berlin", "+2:00", "+02:60", "+14:01", "02:00",
                          "+02-00", "+0200"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseUtcOffset(bad).ok());
  }
}

TEST_CASE("quota: [quota] warn_at levels are sorted percentages without duplicates") {
  CHECK(*ParseWarnAt({"100%", "80%", "90%", "80%"}) == std::vector<int>{80, 90, 100});
  CHECK(ParseWarnAt({})->empty());
  for (const char* bad : {"0%", "101%", "80", "0.8", "%", "8x%"}) {
    CAPTURE(bad);
    CHECK_FALSE(ParseWarnAt({bad}).ok());
  }
  std::vector<std::string> eleven;
  for (int i = 1; i <= 11; ++i) eleven.push_back(std::to_string(i) + "%");
  CHECK_FALSE(ParseWarnAt(eleven).ok());
  CHECK(QuotaSpec(-330, true, {80, 100}) == "-330|defer|80,100");
  CHECK(QuotaSpec(0, false, {}) == "0|reject|");
}

TEST_CASE("admin tokens: scopes, well-formed entries, constant-time match") {
  std::vector<std::string> tokens = {"read:read-token-0123456789", "write:write-token-0123456789"};
  CHECK(CheckAdminTokenEntries(tokens) == "");
  CHECK(AdminScopeOf("Bearer read-token-0123456789", tokens) == AdminScope::kRead);
  CHECK(AdminScopeOf("Bearer write-token-0123456789", tokens) == AdminScope::kWrite);
  CHECK(AdminScopeOf("Bearer write-token-012345678", tokens) == AdminScope::kNone);
  CHECK(AdminScopeOf("bearer write-token-0123456789", tokens) == AdminScope::kNone);
  CHECK(AdminScopeOf("", tokens) == AdminScope::kNone);
  CHECK(AdminScopeOf("Bearer ", {}) == AdminScope::kNone);
  CHECK(CheckAdminTokenEntries({"admin:0123456789abcdef"}).find("entry 1") == 0);
  CHECK(CheckAdminTokenEntries({"read:short"}).find("16+") != std::string::npos);
  CHECK(CheckAdminTokenEntries({"read:has space 0123456789"}).find("printable") !=
        std::string::npos);
}

}  // namespace
}  // namespace policyd
