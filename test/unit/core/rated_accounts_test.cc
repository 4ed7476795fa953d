// MergeRatedAccounts: a cluster's per-slot account_rates answers in one Redis's order.
#include "core/rated_accounts.h"

#include <doctest/doctest.h>

#include <string>

namespace policyd {
namespace {

RatedAccount Rated(const std::string& account, uint64_t last_ms, uint64_t complaints = 1) {
  return {{account, 100, complaints, 0}, last_ms};
}

std::vector<std::string> Names(const std::vector<AccountRateRow>& rows) {
  std::vector<std::string> out;
  for (const AccountRateRow& r : rows) out.push_back(r.account);
  return out;
}

}  // namespace

TEST_CASE("rated accounts: slots merged newest first, ties by name, each account once, capped") {
  std::vector<std::vector<RatedAccount>> slots = {
      {Rated("acme", 50), Rated("beta", 10)},
      {Rated("zeta", 70), Rated("gamma", 50)},
      {},
      {Rated("zeta", 70, 9)},  // the same set listed twice by SCAN
  };
  auto rows = MergeRatedAccounts(slots, 10);
  CHECK(Names(rows) == std::vector<std::string>{"zeta", "acme", "gamma", "beta"});
  CHECK(rows[0].complaints == 1);
  CHECK(rows[1].messages == 100);
  CHECK(Names(MergeRatedAccounts(slots, 2)) == std::vector<std::string>{"zeta", "acme"});
  CHECK(MergeRatedAccounts(slots, 0).empty());
  CHECK(MergeRatedAccounts({}, 5).empty());
}

}  // namespace policyd
